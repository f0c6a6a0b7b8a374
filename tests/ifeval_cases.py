"""Generated answers for tests/test_eval_ifeval_agreement.py: per constraint kind, (constraint, IFEval kwargs, answer).

`cases(kind, count)` builds `count` cases for a kind from a fixed seed. Answers mix English prose (abbreviations,
decimals, ellipses, quotes, contractions), other languages and scripts without case (Kannada, Punjabi, Hindi, Chinese,
Arabic, ...), markdown (bullets, bold, italics, headers, code fences, *** and ****** separators) and edge cases
(empty, whitespace, punctuation only). Thresholds sit next to the answer's own count, where rules disagree if anywhere.
"""

import json
import random

ENGLISH = [
    "The sea is calm tonight.", "I love the rain!", "Is it going to snow tomorrow?", "Mr. Smith went to Washington.",
    "It costs 3.5 dollars.", "We met at 5 p.m. yesterday.", "She lives in the U.S. now.", "Wait... what happened?",
    'They said "hello!" and left.', "Dr. Brown is here.", "The answer is 42.", "Plan B. It worked.",
    "J. R. R. Tolkien wrote many books.", "See the list below: apples, pears, plums.",
    "Prices rose 5. Then they fell.",
    "Hello.World is a program.", "It was fun (really!).", "NASA launched a new rocket.", "I DON'T KNOW.",
    "Don't stop, it's fine.", "The well-known e-mail arrived at 10:30.", "Rainy days are my favourite.",
    "The brain needs sleep", "We can't go... It is late.", "Vitamin C. The doctor said so.", "Wow!! That is great.",
    "Is it? Yes! It is.", "AT&T and R&D teams met at the U.N. headquarters.", "Good morning, everyone",
    "Happy birthday to you, happy birthday!", "The weather today is sunny and warm.", "Bees visit flowers.",
    "They arrived on Jan. 5 and left on Feb. 3.", "He said: 'Go now.' She went.", "This is e.g. a test... maybe.",
    "The robot woke up. It looked around. It smiled.", "My answer is yes.", "Sure! Here is my answer:",
    "Hope this helps!", "IMPORTANT: READ THIS FIRST.", "Call me at 555-1234, okay?", "The U.S.A. is big.",
]
OTHER = [
    "Bonjour tout le monde, comment allez-vous aujourd'hui ?", "El tiempo hoy es soleado y cálido.",
    "Ich liebe es, Bücher zu lesen, besonders im Winter.", "Oggi il cielo è sereno e fa caldo.",
    "Привет, как дела? Я люблю читать книги.", "Η θάλασσα είναι ήρεμη απόψε.", "मुझे किताबें पढ़ना पसंद है।",
    "ਮੈਨੂੰ ਕਿਤਾਬਾਂ ਪੜ੍ਹਨਾ ਬਹੁਤ ਪਸੰਦ ਹੈ। ਅੱਜ ਮੌਸਮ ਵਧੀਆ ਹੈ।", "ನನಗೆ ಪುಸ್ತಕಗಳನ್ನು ಓದಲು ಇಷ್ಟ. ಇಂದು ಹವಾಮಾನ ಚೆನ್ನಾಗಿದೆ.",
    "我喜欢读书。今天天气很好。", "今日は天気がいいです。", "أنا أحب قراءة الكتب كثيرا.",
    "나는 책 읽는 것을 좋아합니다.",
    "Eu gosto muito de ler livros.", "Ik hou van lezen.", "ΑΘΗΝΑ ΚΑΙ ΣΠΑΡΤΗ", "STRASSE UND PLATZ", "🙂🙂 👍",
]
EDGE = ["", "   ", "\n", "...", "!!!", "***", "******", "*", "-", "12345", "?", "\"\"", "[]", "<<>>"]
PREAMBLES = ["Sure! Here is my answer:", "Of course.", "**Answer**", "# Title"]
CLOSINGS = ["Hope this helps!", "Let me know if you need more.", "P.S. Thanks.", "Is there anything else?"]
SEPARATORS = [" ", "\n", "\n\n", "\n\n\n", "\n***\n", " *** ", "\n******\n", "  "]


def _sentence(rng: random.Random) -> str:
    return rng.choice(OTHER) if rng.random() < 0.2 else rng.choice(ENGLISH)


def _decorate(rng: random.Random, line: str) -> str:
    style = rng.random()
    if style < 0.12:
        return f"{rng.choice(['* ', '- ', '-', '  * ', '+ ', '1. '])}{line}"
    if style < 0.2:
        word, _, rest = line.partition(" ")
        return f"{rng.choice(['*', '**', '***'])}{word}{rng.choice(['*', '**', '***'])} {rest}"
    if style < 0.24:
        return line.upper()
    if style < 0.28:
        return line.lower()
    return line


def text(rng: random.Random, parts: tuple[int, int] = (1, 6)) -> str:
    """A random answer: sentences joined by varied separators, some markdown, sometimes a preamble or closing."""
    if rng.random() < 0.04:
        return rng.choice(EDGE)
    lines = [_decorate(rng, _sentence(rng)) for _ in range(rng.randint(*parts))]
    out = lines[0]
    for line in lines[1:]:
        out += rng.choice(SEPARATORS) + line
    if rng.random() < 0.15:
        out = rng.choice(PREAMBLES) + "\n" + out
    if rng.random() < 0.15:
        out = out + "\n" + rng.choice(CLOSINGS)
    if rng.random() < 0.05:
        out = f'"{out}"'
    return out


def _near(rng: random.Random, count: int) -> int:
    return max(1, count + rng.choice([-2, -1, 0, 0, 1, 2]))


def _relation(rng, count):
    """(our relation, IFEval relation, IFEval threshold) for a threshold next to `count`: at_most n is < n + 1."""
    n = _near(rng, count)
    if rng.random() < 0.5:
        return {"n": n, "relation": "at_least"}, "at least", n
    return {"n": n, "relation": "at_most"}, "less than", n + 1


def _words_case(rng, util):
    answer = text(rng)
    n = _near(rng, util.count_words(answer))
    if rng.random() < 0.5:
        return {"kind": "min_words", "n": n}, {"num_words": n, "relation": "at least"}, answer
    return {"kind": "max_words", "n": n}, {"num_words": n + 1, "relation": "less than"}, answer


def _sentences_case(rng, util):
    answer = text(rng)
    ours, relation, n = _relation(rng, util.count_sentences(answer))
    return {"kind": "sentence_count", **ours}, {"num_sentences": n, "relation": relation}, answer


def _paragraphs_case(rng, util):
    parts = [text(rng, (1, 2)) for _ in range(rng.randint(1, 4))]
    seps = ["\n\n***\n\n", "\n***\n", " *** ", "***", "\n\n", "\n\n***\n\n***\n\n", "\n****\n"]
    answer = parts[0] + "".join(rng.choice(seps) + p for p in parts[1:])
    if rng.random() < 0.2:
        answer = rng.choice(["***\n", "\n***\n"]) + answer + rng.choice(["", "\n***", "\n***\n"])
    n = max(1, len(parts) + rng.choice([-1, 0, 0, 1]))
    return {"kind": "paragraph_count", "n": n}, {"num_paragraphs": n}, answer


def _keyword_pool(rng, answer: str) -> str:
    words = [w.strip(".,!?\"'():*") for w in answer.split()] or ["rain"]
    word = rng.choice(words) or "rain"
    choice = rng.random()
    if choice < 0.3 and len(word) > 3:
        return word[1:-1] if rng.random() < 0.5 else word[:3]  # a piece of a word: substring vs whole word
    if choice < 0.5:
        return rng.choice(["rain", "sea", "happy", "book", "weather", "robot", "bees", "sun"])
    return word.upper() if rng.random() < 0.2 else word


def _include_case(rng, util):
    answer = text(rng)
    keywords = sorted({_keyword_pool(rng, answer) for _ in range(rng.randint(1, 3))})
    keywords = [k for k in keywords if k.isalnum()] or ["rain"]
    return {"kind": "include_keywords", "keywords": keywords}, {"keywords": keywords}, answer


def _exclude_case(rng, util):
    kind, kwargs, answer = _include_case(rng, util)
    return {**kind, "kind": "exclude_keywords"}, {"forbidden_words": kwargs["keywords"]}, answer


def _frequency_case(rng, util):
    answer = text(rng, (2, 8))
    keyword = next((k for k in [_keyword_pool(rng, answer)] if k.isalnum()), "happy")
    count = answer.lower().count(keyword.lower())
    ours, relation, n = _relation(rng, count)
    return ({"kind": "keyword_frequency", "keyword": keyword, **ours},
            {"keyword": keyword, "frequency": n, "relation": relation}, answer)


def _json_case(rng, util):
    value = rng.choice([{"name": "Ana", "age": 30}, [1, 2, 3], "text", 42, {"a": {"b": None}}])
    body = json.dumps(value, indent=rng.choice([None, 2]))
    wrap = rng.choice([
        "{}", "```json\n{}\n```", "```JSON\n{}\n```", "```Json\n{}```", "```\n{}\n```", "```python\n{}\n```",
        "```json\n{}", "Here is the JSON:\n{}", "{}\nHope this helps!", "  {}  ", "``` json\n{}\n```", "{}```",
        "{{'name': 'Ana'}}", "{} {}", "NaN", "```json\n```",
    ])
    return {"kind": "json_format"}, {}, wrap.replace("{}", body, 2) if "{}" in wrap else wrap


def _bullets_case(rng, util):
    markers = ["* ", "- ", "-", "*", "  * ", "\t- ", "+ ", "1. ", "**", "***", "---", "• ", "*Note:* "]
    lines = [rng.choice(markers) + rng.choice(ENGLISH) for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.3:
        lines.insert(0, rng.choice(PREAMBLES))
    answer = rng.choice(["\n", "\n\n"]).join(lines)
    count = sum(ln.lstrip().startswith(("* ", "- ", "-", "*N")) for ln in lines)
    n = max(1, count + rng.choice([-1, 0, 0, 1]))
    return {"kind": "bullet_count", "n": n}, {"num_bullets": n}, answer


def _case_answer(rng) -> str:
    answer = text(rng, (1, 4))
    pick = rng.random()
    if pick < 0.35:
        return answer.lower()
    if pick < 0.7:
        return answer.upper()
    if pick < 0.8:
        return rng.choice(OTHER).lower()
    return answer


def _lowercase_case(rng, util):
    return {"kind": "lowercase"}, {}, _case_answer(rng)


def _uppercase_case(rng, util):
    return {"kind": "uppercase"}, {}, _case_answer(rng)


PHRASES = ["Is there anything else I can help with?", "Any other questions?", "Let me know if you need more."]


def _ends_case(rng, util):
    phrase = rng.choice(PHRASES)
    ending = rng.choice([phrase, phrase.lower(), phrase.rstrip("?."), phrase + " ", phrase + "!", "Thanks."])
    answer = text(rng, (1, 3)) + rng.choice([" ", "\n", "\n\n"]) + ending
    if rng.random() < 0.2:
        answer = f'"{answer}"' + rng.choice(["", " ", '"'])
    return {"kind": "ends_with", "phrase": phrase}, {"end_phrase": phrase}, answer


def _placeholders_case(rng, util):
    holes = ["[name]", "[date]", "[]", "[a [b] c]", "[multi\nline]", "[[x]]", "[ ]", "[place]", "]["]
    parts = [rng.choice(ENGLISH)] + [rng.choice(holes) for _ in range(rng.randint(0, 4))]
    rng.shuffle(parts)
    n = rng.randint(1, 4)
    return {"kind": "placeholder_count", "n": n}, {"num_placeholders": n}, " ".join(parts)


def _title_case(rng, util):
    titles = ["<<Autumn Leaves>>", "<< >>", "<<a>> and <<b>>", "<<>>", "<<multi\nline>>", "<<<x>>>", "< <x> >",
              "<<  >> <<x>>", "<Title>", "<<Poem of Joy>>\n", "«Title»"]
    parts = [rng.choice(titles), text(rng, (1, 3))]
    rng.shuffle(parts)
    return {"kind": "title"}, {}, "\n".join(parts)


def _sections_case(rng, util):
    marker = rng.choice(["SECTION", "Section", "PARAGRAPH"])
    heads = [marker + " 1", marker + " 2", marker + "3", marker + " X", marker.lower() + " 4", marker + " 10"]
    answer = "\n".join(rng.choice(heads) + rng.choice(["\n", ": ", " "]) + rng.choice(ENGLISH)
                       for _ in range(rng.randint(1, 4)))
    n = rng.randint(1, 4)
    return ({"kind": "section_count", "n": n, "marker": marker}, {"section_spliter": marker, "num_sections": n},
            rng.choice(["", "Intro.\n"]) + answer)


def _highlights_case(rng, util):
    marks = ["*a*", "**bold**", "***both***", "* not *", "**", "*one* *two*", "*multi\nline*", "***", "** **",
             "*x**y*", "**a** and *b*", "*"]
    parts = [rng.choice(ENGLISH)] + [rng.choice(marks) for _ in range(rng.randint(0, 4))]
    rng.shuffle(parts)
    n = rng.randint(1, 4)
    return {"kind": "highlighted_sections", "n": n}, {"num_highlights": n}, " ".join(parts)


def _commas_case(rng, util):
    answer = text(rng, (1, 4))
    if rng.random() < 0.4:
        answer = answer.replace(",", rng.choice(["", " ", "，", ";"]))
    return {"kind": "no_commas"}, {}, answer


def _letter_case(rng, util):
    answer = text(rng)
    letter = rng.choice("aeiostzqx")
    ours, relation, n = _relation(rng, answer.lower().count(letter))
    return ({"kind": "letter_frequency", "letter": letter, **ours},
            {"letter": letter, "let_frequency": n, "let_relation": relation}, answer)


def _capitals_case(rng, util):
    extra = ["I", "A", "DON'T", "AT&T", "U.S.A.", "WELL-KNOWN", "NASA's", "OK!", "3D", "ΑΘΗΝΑ", "ਸਤਿ", "CAN'T",
             "I'M", "(NOTE)", '"WOW"', "HELLO,WORLD", "R2-D2", "GONNA", "Q&A"]
    answer = text(rng, (1, 4)) + " " + " ".join(rng.choice(extra) for _ in range(rng.randint(0, 5)))
    count = sum(w.isupper() for w in util.nltk.word_tokenize(answer))
    ours, relation, n = _relation(rng, count)
    return ({"kind": "capital_word_frequency", **ours}, {"capital_frequency": n, "capital_relation": relation},
            answer)


def _quoted_case(rng, util):
    body = text(rng, (1, 3))
    wrap = rng.choice(['"{}"', "“{}”", ' "{}" ', '"{}', "'{}'", '"{}" more', '""', '"', "{}", '\n"{}"\n'])
    return {"kind": "quoted"}, {}, wrap.replace("{}", body)


def _postscript_case(rng, util):
    marker = rng.choice(["P.S.", "P.P.S"])
    endings = ["P.S. Thanks.", "p.s. thanks", "P. S. Thanks.", "PS: thanks", "P.P.S More.", "P.P.S. More.",
               "p. p. s later", "help.s. here", "(P.S. mid-line)", "Postscript: bye", ""]
    answer = text(rng, (1, 3)) + rng.choice(["\n", "\n\n", " "]) + rng.choice(endings)
    return {"kind": "postscript", "marker": marker}, {"postscript_marker": marker}, answer


def _language_case(rng, util):
    language = rng.choice(["en", "fr", "es", "de", "hi", "pa", "kn", "ru", "pt", "ja", "ar", "ko", "it"])
    answer = rng.choice([text(rng, (1, 3)), " ".join(rng.choice(OTHER) for _ in range(rng.randint(1, 3))),
                         rng.choice(OTHER), rng.choice(EDGE[3:])])
    return {"kind": "response_language", "language": language}, {"language": language}, answer


def _two_responses_case(rng, util):
    a, b = rng.choice(ENGLISH), rng.choice(ENGLISH + ["SAME"])
    b = a if b == "SAME" else b
    answer = rng.choice([
        "{a}\n******\n{b}", "{a} ****** {b}", "******\n{a}\n******\n{b}\n******", "{a}\n******\n\n******\n{b}",
        "{a}\n*******\n{b}", "{a}\n******\n{b}\n******\n{a} again", "{a}", "{a}\n****\n{b}", "{a}******",
        "{a}\n******\n{b}\n******\n",
    ]).format(a=a, b=b)
    return {"kind": "two_responses"}, {}, answer


def _first_word_case(rng, util):
    starts = ["Rain", "rain", '"Rain', "'rain'", "Rain,", "Rain.", "**Rain**", "  rain", "Sun", "RAIN!"]
    paragraphs = [f"{rng.choice(starts)} {rng.choice(ENGLISH)}" for _ in range(rng.randint(1, 4))]
    answer = "".join(p + rng.choice(["\n\n", "\n\n", "\n\n\n", "\n", "\n\n \n\n"]) for p in paragraphs).rstrip()
    num = max(1, len(paragraphs) + rng.choice([-1, 0, 0, 0, 1]))
    nth = rng.randint(1, num)
    constraint = {"kind": "paragraph_first_word", "num_paragraphs": num, "nth_paragraph": nth, "first_word": "rain"}
    return constraint, {"num_paragraphs": num, "nth_paragraph": nth, "first_word": "rain"}, answer


def _constrained_case(rng, util):
    reply = rng.choice(["My answer is yes.", "My answer is no.", "My answer is maybe.", "my answer is yes.",
                        "My answer is yes", "My answer is Yes.", "My answer is maybe!", "Yes.", "My  answer is no."])
    answer = rng.choice(["{}", "I think so. {}", "{}\nBecause it rains.", "**{}**", '"{}"', "{} {}"]).format(
        reply, reply)
    return {"kind": "constrained_response"}, {}, answer


GENERATORS = {
    "min_words": _words_case, "max_words": _words_case, "sentence_count": _sentences_case,
    "paragraph_count": _paragraphs_case, "include_keywords": _include_case, "exclude_keywords": _exclude_case,
    "keyword_frequency": _frequency_case, "json_format": _json_case, "bullet_count": _bullets_case,
    "lowercase": _lowercase_case, "uppercase": _uppercase_case, "ends_with": _ends_case,
    "placeholder_count": _placeholders_case, "title": _title_case, "section_count": _sections_case,
    "highlighted_sections": _highlights_case, "no_commas": _commas_case, "letter_frequency": _letter_case,
    "capital_word_frequency": _capitals_case, "quoted": _quoted_case, "postscript": _postscript_case,
    "response_language": _language_case, "two_responses": _two_responses_case,
    "paragraph_first_word": _first_word_case, "constrained_response": _constrained_case,
}


def cases(kind: str, count: int, util, seed: int = 0) -> list[tuple[dict, dict, str]]:
    """`count` (constraint, IFEval kwargs, answer) cases for `kind`; `util` is IFEval's instructions_util, whose
    counts put the thresholds next to each answer's own count."""
    rng = random.Random(f"{kind}-{seed}")
    out = []
    while len(out) < count:  # min_words and max_words share a generator: keep the ones of this kind
        constraint, kwargs, answer = GENERATORS[kind](rng, util)
        if constraint["kind"] == kind:
            out.append((constraint, kwargs, answer))
    return out
