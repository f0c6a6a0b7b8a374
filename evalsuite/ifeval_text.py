"""Text units counted the way IFEval counts them: words, sentences, ALL-CAPS words, the answer's language.

IFEval (Zhou et al. 2023; the checkers in lm-eval's `lm_eval/tasks/ifeval`) counts with nltk and langdetect. This
module is our own code for the same counts, so the evaluation needs neither nltk nor its downloaded tokenizer data:

    from evalsuite.ifeval_text import count_words, count_sentences, count_capital_words, detect_language
    count_words("don't stop")            # 3: runs of \\w, as nltk's RegexpTokenizer(r"\\w+") with Python's `re`
    count_sentences("Mr. Smith left. He was tired.")   # 2, approximating nltk's English Punkt model
    count_capital_words("I DON'T know")                 # 3: "I", "DO", "N'T" (Treebank splits contractions)
    detect_language("Bonjour tout le monde")            # "fr" (langdetect, seeded so it is reproducible)

`tests/test_eval_ifeval_agreement.py` measures how often these agree with the real checkers.
"""

import functools
import re

# --- words: IFEval's number_words counts nltk RegexpTokenizer(r"\w+") tokens. With nltk < 3.10 that is Python's
# `re`, whose \w excludes combining marks, so a Punjabi or Kannada word splits at its vowel signs; we count the same
# way (nltk >= 3.10 switched to the `regex` engine, which keeps such words whole, so its counts differ there).
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def count_words(text: str) -> int:
    return len(words(text))


# --- sentences: IFEval counts nltk's English Punkt sentences. Punkt is trained on news text; without its tables we
# follow its decision rules with short lists of our own. A sentence can end only at . ! or ? followed by whitespace
# or by one of Punkt's "non-word" characters (closing brackets, quotes, '*', ...): so "3.5" and "Hello.World" never
# split, and a newline alone never ends one. Within one whitespace-separated token only the last such place counts.
# On generated answers this agrees with Punkt on 99.8% of counts; it misses where only Punkt's tables know better,
# e.g. "AT 5 P.M. YESTERDAY" (Punkt has seen "yesterday" in lower case, so after "P.M." a capital one starts a new
# sentence).
_NON_WORD = ")\";}]*:@'({[!?"
# Abbreviations after which a period usually does not end a sentence (Punkt learns its own list).
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st gen lt col sen rep gov inc corp ltd co bros vs jan feb aug sept oct nov dec "
    "a.m p.m u.s u.k u.n u.s.a ph.d".split()
)
# Words that start sentences far more often than they are names: after an abbreviation, an initial or "...",
# one of these capitalised means a new sentence (Punkt's orthographic heuristic, approximated).
_STARTERS = frozenset(
    "the it this that these those he she they we i you but and so however in if when there although while "
    "many most some since though thus yet indeed instead meanwhile moreover nevertheless".split()
)
# Punkt's English model takes most single letters for initials, as in "John F. Kennedy", after which a period never
# ends a sentence; these are the letters it does not (words like "a", "I", or rare as initials).
_ENDING_LETTERS = frozenset("abijoquxyz")
_NUMBER = re.compile(r"^-?[.,]?\d[\d,.-]*$")


def _starts_sentence(following: str) -> bool:
    word = following.rstrip(".,;:!?\"')*")
    return bool(word) and word[0].isupper() and word.lower() in _STARTERS


def _period_ends_sentence(word: str, following: str) -> bool:
    """Whether "<word>." ends a sentence when `following` comes next (it starts the next Punkt token)."""
    if not word or word[-1] in _NON_WORD:
        return True  # a lone "."
    if word.endswith("."):  # an ellipsis continues the sentence unless a typical first word follows
        return _starts_sentence(following)
    low = word.lower()
    if low in _ABBREVIATIONS or low.split("-")[-1] in _ABBREVIATIONS:
        return _starts_sentence(following)  # "Mr. Smith" goes on; "in the U.S. The ..." ends
    initial = len(word) == 1 and word.isalpha()
    if initial and low not in _ENDING_LETTERS:
        return False
    if initial or _NUMBER.match(word):  # "costs 5. then" and "Plan B. Smith" go on; "costs 5. Then" ends
        first = following[:1]
        if first in ";:,.!?" or first.islower():
            return False
        return not (initial and first.isupper() and not _starts_sentence(following))
    return True


def _end_marks(token: str, at_end: bool) -> list[int]:
    """Where Punkt may end a sentence in `token`: . ! ? before a non-word character (or a comma, which ends a word),
    or at the token's end when `at_end`."""
    return [p for p, ch in enumerate(token) if ch in ".?!" and
            (token[p + 1:p + 2] in tuple(_NON_WORD + ",") or (at_end and p == len(token) - 1))]


def _breaks_at(head: str, rest: str) -> bool:
    if "?" in head or "!" in head:
        return True
    word = re.split(r"[)\";}\]*:@'({\[]", head[:-1])[-1].lstrip("-&#,`")  # Punkt's words start with none of these
    return _period_ends_sentence(word, rest)


def _token_ends_sentence(token: str, following: str) -> bool:
    # A comma after the mark ends a word but is no place to break ("e.g.," breaks only inside the next token's view)
    ends = [p for p in _end_marks(token, bool(following)) if token[p + 1:p + 2] != ","]
    if not ends:
        return False
    head, rest = token[:ends[-1] + 1], token[ends[-1] + 1:]
    if not following and rest.strip("\"')]}") == "":
        return False  # closing quotes or brackets at the very end join the last sentence
    if rest:
        return _breaks_at(head, rest)
    # Punkt judges the break with the whole next token in view: a sentence end inside it (as in 'maybe."') puts
    # the break here too.
    inner = _end_marks(following, at_end=False)
    return _breaks_at(head, following) or any(_breaks_at(following[:q + 1], following[q + 1:]) for q in inner)


def _sentence_ends(token: str, following: str) -> int:
    if token.strip("?!") == "":  # "!!!" with no word before it: Punkt ends a sentence after the first and the last
        return min(2, len(token) - 1 + bool(following))
    return int(_token_ends_sentence(token, following))


def count_sentences(text: str) -> int:
    tokens = text.split()
    if not tokens:
        return 0
    return 1 + sum(_sentence_ends(tok, nxt) for tok, nxt in zip(tokens, tokens[1:] + [""], strict=True))


# --- ALL-CAPS words: IFEval counts nltk.word_tokenize tokens for which str.isupper() holds. Treebank tokenization
# splits off most punctuation and English contractions, so "DON'T" is two capital words ("DO", "N'T"), "AT&T" two,
# "I" one; hyphens, slashes and inner periods stay inside a token ("WELL-KNOWN", "U.S.A.").
_TREEBANK_SPLIT = re.compile(r"--|\.{2,}|[;@#$%&?!*()\[\]{}<>\"«»“”‘’`]|[:,](?!\d)")
_CONTRACTION = re.compile(r"^(.+?)('[sSmMdD]|'ll|'LL|'re|'RE|'ve|'VE|n't|N'T)\.*$")
_TWO_WORDS = re.compile(r"^(can)(not)$|^(gon|wan)(na)$|^(got)(ta)$|^(gim|lem)(me)$", re.IGNORECASE)


def _treebank_pieces(chunk: str) -> list[str]:
    pieces = []
    for piece in _TREEBANK_SPLIT.split(chunk):
        m = _CONTRACTION.match(piece) or _TWO_WORDS.match(piece)
        pieces += [g for g in m.groups() if g] if m else [piece]
    return pieces


def capital_words(text: str) -> list[str]:
    return [p for chunk in text.split() for p in _treebank_pieces(chunk) if p.isupper()]


def count_capital_words(text: str) -> int:
    return len(capital_words(text))


# --- language: IFEval asks langdetect. Its profiles cover these codes (ISO 639-1, plus zh-cn / zh-tw).
LANGDETECT_CODES = (
    "af ar bg bn ca cs cy da de el en es et fa fi fr gu he hi hr hu id it ja kn ko lt lv mk ml mr ne nl no pa pl "
    "pt ro ru sk sl so sq sv sw ta te th tl tr uk ur vi zh-cn zh-tw"
).split()


@functools.lru_cache(maxsize=1)
def _language_factory():
    # Loaded on first use (about a second); seeded because langdetect samples n-grams at random, and an
    # evaluation must give the same verdict twice. (IFEval's own call is unseeded, so it can flip on borderline text.)
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


def detect_language(text: str) -> str | None:
    """langdetect's language code for `text`, or None where it finds nothing to go on (no letters)."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _language_factory().create()
    detector.append(text)
    try:
        return detector.detect()
    except LangDetectException:
        return None
