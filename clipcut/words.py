"""Words of a text in any language: how clipcut splits text into words for matching, and
the commonest function words of the languages it has been measured on.

Both sides of every lexical match (query terms, transcripts) go through ``tokens``, so
"información" in a query meets "información" (or an ASR's "informacion") in a transcript
as one word, where ASCII-only splitting gave "informaci" and "n".
"""
from __future__ import annotations

import re
import unicodedata

# The commonest short words of each language (articles, pronouns, prepositions): they name
# the language of caption text (``index.language.from_text``, which counts them, so each
# list stays as short as the English one).
FUNCTION_WORDS = {
    "en": "the and of to is that it in you for was this with are not have but be they",
    "es": "el la de que y en los las por un una es con para del se no al lo como",
    "de": "der die und das ist nicht ein eine zu den von mit sich des auf für dem im",
    "fr": "le la les de des et est un une du que en pour pas dans ce qui sur au",
    "it": "il di che e la per un una non sono del della gli le con si è al da",
    "pt": "o a de que e do da em um uma para com não os as se no na por é",
    "nl": "de het een en van is dat niet op te zijn met voor die er ook aan",
    "pl": "i w nie na się z że do jest to jak co tak ale po od o za",
    "sv": "och att det som en är på för med inte av till den har de jag ett",
}
# More of them, never matched as query terms in a recording of that language: every
# transcript has them, so they say nothing of its subject (an English query's "son" would
# otherwise be heard in every Spanish recording).
MORE_FUNCTION_WORDS = {
    "es": "su sus le les me mi nos yo tu muy mas pero o este esta estos estas ese esa hay "
          "ser son fue era ha han hemos tiene tienen",
    "de": "einen einem einer ich du er sie es wir ihr ihre ihren sein seine unser unsere "
          "auch aber oder wie wenn dass am an in aus bei nach um noch nur so sind war hat "
          "haben wird werden kann muss",
    "fr": "aux il elle ils elles nous vous je on se sa son ses leur leurs mon ma mes notre "
          "nos ou mais avec par ne plus très cette ces sont était a ont avons",
    "it": "lo i dei delle nel nella alla ma o come anche questo questa ci mi ha hanno",
    "pt": "dos das ao mas ou como seu sua seus suas nos ele ela eles foi tem muito",
    "nl": "in ik je we wij hij zij ze maar of als bij naar om dan nog wel heeft hebben",
    "pl": "a ten ta te czy są był była by już tylko przez dla",
    "sv": "i vi han hon men om så var eller från vid sin sina",
}


def fold(text: str) -> str:
    """Case-folded, without accents ("Información" -> "informacion", "Größe" -> "grosse"):
    ASR output and typed queries disagree on accents more often than on letters."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """The words (runs of letters and digits, any script) of ``text``, folded."""
    return re.findall(r"[^\W_]+", fold(text))


_FUNCTION = {code: frozenset(tokens(words + " " + MORE_FUNCTION_WORDS.get(code, "")))
             for code, words in FUNCTION_WORDS.items()}


def function_words(language: str) -> frozenset[str]:
    """The folded function words of ``language`` (empty for a language not listed)."""
    return _FUNCTION.get(language, frozenset())


def without_function_words(words, language: str) -> tuple[str, ...]:
    """``words`` (folded) less the function words of ``language``: what of a query can be
    heard in a recording of that language and say something of its subject."""
    common = function_words(language)
    return tuple(w for w in words if w not in common)


# One spelling for English words that transcripts write two ways. Captions and people
# typing queries write British spelling and numbers in words as often as not ("colours",
# "discs", "five years"); the recognizer writes American spelling and digits ("colors",
# "disks", "5 years"), so a query word missed the transcript's word for the same thing.
# Both sides of a match go through ``spelling``, so a rule only has to be consistent: it
# may bend a word it was not written for ("devour" -> "devor") as long as it joins no two
# different words.
_SPELLING = [(re.compile(p), r) for p, r in (
    (r"^(\w{3,})our(s|ed|ing|ite|ites|able|er|ers|hood)?$", r"\1or\2"),  # colour
    (r"^(\w{3,})is(e|es|ed|ing|ation|ations|er|ers)$", r"\1iz\2"),              # organise
    (r"^(\w{2,})ys(e|es|ed|ing)$", r"\1yz\2"),                                 # analyse
    (r"^(\w{2,})tre(s)?$", r"\1ter\2"),                                      # centre
    (r"^(\w{2,})ell(ed|ing|er|ers)$", r"\1el\2"),                              # travelled
    (r"^(\w*(?:fen|licen|offen|preten))ce(s)?$", r"\1se\2"),                   # defence
    (r"^(\w{3,}(?:og|ag))ue(s)?$", r"\1\2"),                                   # dialogue
    (r"^(program)me(s)?$", r"\1\2"),
    (r"^disc(s)?$", r"disk\1"),
)]
_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_NUMBERS.update({w: str(10 * i) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)})


def spelling(word: str) -> str:
    """``word`` (a folded token) in one English spelling: American, numbers as digits
    ("colours" -> "colors", "analysed" -> "analyzed", "centre" -> "center", "discs" ->
    "disks", "five" -> "5")."""
    if word in _NUMBERS:
        return _NUMBERS[word]
    for pattern, repl in _SPELLING:
        m = pattern.match(word)
        if m:
            return m.expand(repl)
    return word


def terms(text: str) -> list[str]:
    """``tokens`` in one spelling: what lexical matches compare."""
    return [spelling(w) for w in tokens(text)]
