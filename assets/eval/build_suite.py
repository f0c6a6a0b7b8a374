"""Write assets/eval/suite.jsonl: the evaluation queries, hand-written here, plus held-out starter-family items.

Run from the repository root (stdlib only, deterministic):

    python assets/eval/build_suite.py && python -m evalsuite.suite

suite.jsonl is committed so an evaluation needs no build step; suite_sources.json holds the data of the queries
made from tables (more facts; instruction-following rules asked about topics). To change the suite, edit this file
(or that data), rerun it, and bump SUITE_VERSION: scores from different versions are not comparable. The held-out
rows (capitals, code, and the whole `paraphrase` category) take their items from assets/datasets/heldout_items.json
and their phrasings from the starter generator: phrasing 1 = the Stage 1 training prompt, 2-3 = Stage 2 training
phrasings, 4 = a phrasing used nowhere in training. Rerun this script if those datasets are regenerated with other
items.
"""

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

SUITE_VERSION = "1.2"
ROOT = Path(__file__).resolve().parents[2]
HELDOUT_PATH = "assets/datasets/heldout_items.json"
OUT = ROOT / "assets" / "eval" / "suite.jsonl"
ROWS = []


def add(id, category, paraphrases, check, expected, source="written for this suite", notes=None, input=None):
    row = {"id": id, "category": category, "suite_version": SUITE_VERSION, "paraphrases": paraphrases}
    row |= {"input": input} if input else {}
    row |= {"check": check, "expected": dict(zip(("stage1", "stage2", "stage3"), expected, strict=True)),
            "source": source}
    ROWS.append(row | ({"notes": notes} if notes else {}))


def exact(*answers, distractors=None):
    return {"type": "exact", "answers": list(answers)} | ({"distractors": distractors} if distractors else {})


def numeric(answer, units=None):
    return {"type": "numeric", "answer": answer} | ({"units": units} if units else {})


def constraints(*items):
    return {"type": "constraints", "constraints": list(items)}


def code(function, tests):
    return {"type": "code", "function": function, "tests": tests}


# Expected behaviour per stage, one sentence each, shared by the queries of a kind.
FACT = (
    "Not in the stage 1 data, so the score should stay near the base model's, perhaps lower if the terse trained "
    "format overfits.",
    "Stays near base level and gets more consistent across phrasings, since instruction tuning teaches the answer "
    "format, not the fact.",
    "LoRA leaves the base weights frozen, so this fact should survive at least as well as after full fine-tuning.",
)
HELD_CAPITAL = (
    "The canonical phrasing is exactly the stage 1 capitals prompt, so stage 1 should answer it and do worse on "
    "the other phrasings.",
    "Right across phrasings and templates even though this country never appears in the training data.",
    "A LoRA adapter on the same data should match stage 2 while keeping the base model's geography intact.",
)
REASON = (
    "No reasoning data in stage 1, so expect base-level accuracy at best; a memorised answer format can make it "
    "worse.",
    "Slightly better or more consistent across phrasings because stage 2 teaches short direct answers, not new "
    "reasoning skill.",
    "Stays close to the base model, since small LoRA adapters on narrow tasks should not erase general reasoning.",
)
FOLLOW = (
    "Stage 1 teaches one fixed short-answer format, so constraints it never saw are met no better than by the base "
    "model.",
    "Better at obeying format constraints across phrasings, since stage 2 trains on many differently worded "
    "instructions.",
    "Comparable to stage 2 when LoRA is trained on the instruction data, with the base model's fluency preserved.",
)
CREATIVE = (
    "Stage 1's single short-answer format tends to make creative replies terse, so constraint satisfaction stays "
    "at or below base.",
    "Follows the form requested in each phrasing more often; the checker says nothing about how good the writing "
    "is.",
    "LoRA should keep the base model's fluency while matching stage 2 on following the requested form.",
)
CODE = (
    "Stage 1 trains one 'Write a Python function ...' phrasing on other functions, so this unseen function may "
    "work on the canonical phrasing only.",
    "Working code across phrasings and templates, because stage 2 saw many ways of asking for a function.",
    "A LoRA adapter should reach stage 2's pass rate without losing the base model's general Python knowledge.",
)
PARA = (
    "Right on the canonical phrasing, which is the exact stage 1 training prompt, and noticeably worse on the "
    "other phrasings.",
    "Right across all phrasings and templates, including the phrasing and templates never used in training.",
    "A LoRA adapter trained on the stage 2 data should be about as robust as full stage 2 fine-tuning.",
)
HELD_NOTE = ("Held-out item of the trained '{}' family: phrasing 1 is the stage 1 prompt, 2-3 are stage 2 "
             "phrasings, 4 is unseen.")


def factual_queries():
    add("fact-jupiter", "factual", [
        "What is the largest planet in our solar system?", "Which planet in the solar system is the biggest?",
        "Name the largest planet orbiting the Sun.",
        "Of all the planets in our solar system, which one is the largest?",
    ], exact("Jupiter"), FACT)
    add("fact-water-formula", "factual", [
        "What is the chemical formula for water?", "Write the chemical formula of water.",
        "Which chemical formula describes a molecule of water?", "Give the molecular formula for water.",
    ], exact("H2O", "H₂O"), FACT)
    add("fact-romeo-juliet", "factual", [
        "Who wrote Romeo and Juliet?", "Which playwright is the author of Romeo and Juliet?",
        "Name the writer of the play Romeo and Juliet.", "Romeo and Juliet was written by whom?",
    ], exact("Shakespeare", "William Shakespeare"), FACT)
    add("fact-largest-ocean", "factual", [
        "What is the largest ocean on Earth?", "Which ocean is the biggest in the world?",
        "Name the largest of Earth's oceans.", "Which is the largest ocean on our planet?",
    ], exact("Pacific", "Pacific Ocean"), FACT)
    add("fact-days-week", "factual", [
        "How many days are there in a week?", "How many days does one week have?", "A week has how many days?",
        "Tell me the number of days in a week.",
    ], exact("7", "seven"), FACT)
    add("fact-spider-legs", "factual", [
        "How many legs does a spider have?", "What is the number of legs on a spider?", "A spider has how many legs?",
        "Count the legs of a typical spider: how many are there?",
    ], exact("8", "eight"), FACT)
    add("fact-boiling-point", "factual", [
        "At what temperature in degrees Celsius does water boil at sea level?",
        "What is the boiling point of water in Celsius at sea level?",
        "Water boils at how many degrees Celsius at sea level?",
        "In degrees Celsius, what is the boiling point of water at normal air pressure?",
    ], exact("100", "100 degrees", "one hundred"), FACT)


def reasoning_queries():
    add("reason-shortest", "reasoning", [
        "Alice is taller than Bob. Bob is taller than Carol. Who is the shortest?",
        "Bob is shorter than Alice, and Carol is shorter than Bob. Which of the three is the shortest?",
        "Of Alice, Bob and Carol, who is shortest if Alice is taller than Bob and Bob is taller than Carol?",
        "If Alice > Bob > Carol in height, who is the shortest person?",
    ], exact("Carol"), REASON)
    add("reason-sequence-even", "reasoning", [
        "What number comes next in the sequence 2, 4, 6, 8?", "Continue the pattern with one number: 2, 4, 6, 8, ...",
        "What is the next number after 2, 4, 6, 8 in this sequence?",
        "Complete the series 2, 4, 6, 8 with the next term.",
    ], numeric(10), REASON)
    add("reason-sequence-squares", "reasoning", [
        "What number comes next: 1, 4, 9, 16?", "Find the next term of the sequence 1, 4, 9, 16.",
        "Continue the pattern 1, 4, 9, 16 with one more number.", "Which number follows 1, 4, 9, 16 in this series?",
    ], numeric(25), REASON)
    add("reason-sheep", "reasoning", [
        "A farmer has 17 sheep. All but 9 run away. How many sheep are left?",
        "There are 17 sheep on a farm and all but 9 of them escape. How many sheep remain?",
        "All but 9 of a farmer's 17 sheep ran off. How many does the farmer still have?",
        "If 17 sheep are in a field and all but 9 wander away, how many stay in the field?",
    ], numeric(9), REASON, notes="A trick question: answering 8 (17 - 9) is the typical mistake.")
    add("reason-weekday", "reasoning", [
        "If today is Monday, what day of the week will it be in two days?",
        "Today is Monday. Which day is it two days from now?", "What day comes two days after Monday?",
        "Two days after a Monday, what day of the week is it?",
    ], exact("Wednesday"), REASON)
    add("reason-syllogism", "reasoning", [
        "All bloops are razzies and all razzies are lazzies. Are all bloops lazzies? Answer yes or no.",
        "If every bloop is a razzie and every razzie is a lazzie, is every bloop a lazzie? Reply yes or no.",
        "Suppose all bloops are razzies, and all razzies are lazzies. Must all bloops be lazzies? Yes or no?",
        "Bloops are all razzies; razzies are all lazzies. So are bloops all lazzies? Say yes or no.",
    ], exact("yes", distractors=["no"]), REASON,
        notes="Distractor 'no': whichever of yes/no appears first in the first line decides.")
    add("reason-decimal-compare", "reasoning", [
        "Which number is larger, 0.5 or 0.25?", "Which is bigger: 0.25 or 0.5?",
        "Compare 0.5 and 0.25. Which one is greater?", "Between 0.25 and 0.5, which number has the larger value?",
    ], exact("0.5", distractors=["0.25"]), REASON,
        notes="Small models often pick 0.25 because 25 > 5; the number named first decides.")
    add("reason-train-arrival", "reasoning", [
        "A train leaves at 3 PM and the trip takes 2 hours. What time does it arrive?",
        "If a 2-hour train ride starts at 3 PM, when does it end?",
        "The train departs at 3 PM. The journey lasts two hours. When does it get there?",
        "What is the arrival time of a train that leaves at 3 PM for a two-hour trip?",
    ], exact("5 PM", "5pm", "5:00 PM", "5:00pm", "5 p.m.", "5:00 p.m.", "17:00", "five o'clock", "5 o'clock",
             "five PM"), REASON)


# More facts of the same kind (none from a trained family), enough that "knowledge preserved" can be decided, and
# instruction-following queries made from one rule and one topic (each rule asked about two topics): the data is in
# suite_sources.json, `{t}` the topic and `{k}` a keyword from it that some rules require.
SOURCES = Path(__file__).resolve().parent / "suite_sources.json"


def more_factual_queries(sources):
    for fact in sources["facts"]:
        add(fact["id"], "factual", fact["phrasings"], exact(*fact["answers"]), FACT)


def _filled(value, topic: str, keyword: str):
    if isinstance(value, str):
        return value.format(t=topic, k=keyword)
    if isinstance(value, list):
        return [_filled(v, topic, keyword) for v in value]
    if isinstance(value, dict):
        return {key: _filled(v, topic, keyword) for key, v in value.items()}
    return value


def rule_queries(sources):
    topics = sources["topics"]
    for index, rule in enumerate(sources["rules"]):
        for topic, keyword in (topics[index], topics[(index + 5) % len(topics)]):
            add(f"if-{rule['rule']}-{keyword}", "instruction_following", _filled(rule["phrasings"], topic, keyword),
                constraints(*_filled(rule["constraints"], topic, keyword)), FOLLOW)


def instruction_queries():
    add("if-bullets-fruits", "instruction_following", [
        "List exactly three fruits as markdown bullet points.",
        "Give me three fruits, one per bullet point (use '- ' or '* '), and nothing more.",
        "Name three fruits in a bulleted list with exactly three bullets.", "Write a bullet list of 3 fruits.",
    ], constraints({"kind": "bullet_count", "n": 3}), FOLLOW)
    add("if-lowercase-sea", "instruction_following", [
        "Write one sentence about the sea using only lowercase letters.",
        "In all lowercase letters, write a sentence about the sea.",
        "Describe the sea in one sentence with no capital letters at all.",
        "Write a single sentence about the sea; do not use any uppercase letters.",
    ], constraints({"kind": "lowercase", "rule": "any_language"}, {"kind": "include_keywords", "keywords": ["sea"]}),
        FOLLOW)
    add("if-json-person", "instruction_following", [
        'Reply with only a JSON object with the keys "name" and "age" for a person named Ana who is 30 years old.',
        'Output a JSON object describing Ana, age 30, using the keys "name" and "age". No other text.',
        'Give me JSON (keys "name" and "age") for a 30-year-old called Ana, and nothing else.',
        'Ana is 30 years old. Return her details as a JSON object with keys "name" and "age" only.',
    ], constraints({"kind": "json_format", "required_keys": ["name", "age"]}), FOLLOW)
    add("if-uppercase-greeting", "instruction_following", [
        "Write a short greeting in ALL CAPITAL LETTERS, in at most 10 words.",
        "Greet me in fewer than 11 words, using only uppercase letters.",
        "Say hello in all capital letters, using no more than ten words.",
        "Using only capital letters, write a greeting of 10 words or fewer.",
    ], constraints({"kind": "uppercase", "rule": "any_language"}, {"kind": "max_words", "n": 10}), FOLLOW,
        notes="The prompts ask for a case, not for English (IFEval's own case rule also wants langdetect to say "
              "English, which a ten-word greeting in capitals often fails).")
    add("if-start-yes", "instruction_following", [
        "Start your answer with the word 'Yes' and explain in at most two sentences why exercise is good for you.",
        "Is exercise good for you? Begin your reply with 'Yes' and use no more than two sentences.",
        "Answer in one or two sentences, beginning with 'Yes': is exercise healthy?",
        "Your reply must begin with 'Yes'. In two sentences or fewer, say why exercise is healthy.",
    ], constraints({"kind": "starts_with", "phrase": "Yes"},
                   {"kind": "sentence_count", "n": 2, "relation": "at_most"}), FOLLOW)
    add("if-no-commas-computer", "instruction_following", [
        "Explain what a computer is in at least 15 words without using any commas.",
        "Without a single comma, describe what a computer is. Use 15 words or more.",
        "Describe a computer in 15 or more words, and do not use commas anywhere.",
        "Tell me what a computer does in at least fifteen words. Your answer must contain no commas.",
    ], constraints({"kind": "no_commas"}, {"kind": "min_words", "n": 15}), FOLLOW)
    add("if-ends-with-phrase", "instruction_following", [
        "Give one tip for sleeping well, and end your response with the exact phrase 'Is there anything else?'",
        "Share a tip for better sleep. Finish your answer with exactly: Is there anything else?",
        "Offer a single sleep tip; the last words of your reply must be 'Is there anything else?'",
        "What helps people sleep well? Give one tip and close with the phrase 'Is there anything else?'",
    ], constraints({"kind": "ends_with", "phrase": "Is there anything else?"}), FOLLOW)
    add("if-placeholders-letter", "instruction_following", [
        "Write a short invitation template with at least 2 placeholders in square brackets, such as [name].",
        "Create a brief party invitation template that contains two or more placeholders like [date] in square "
        "brackets.",
        "Draft a short invitation with at least two square-bracket placeholders, for example [name] and [time].",
        "Write an invitation template; include at least 2 fill-in fields written in square brackets like [place].",
    ], constraints({"kind": "placeholder_count", "n": 2, "relation": "at_least"}), FOLLOW)
    add("if-highlight-food", "instruction_following", [
        "Describe your favourite food and highlight at least 2 words with markdown asterisks, like *this*.",
        "Tell me about a food you like, and mark at least two words as highlighted with *asterisks*.",
        "Write about a favourite dish. Highlight two or more words using markdown, for example *tasty*.",
        "Describe a meal you enjoy; use *single asterisks* to highlight at least 2 words.",
    ], constraints({"kind": "highlighted_sections", "n": 2, "relation": "at_least"}), FOLLOW)
    add("if-no-rain-weather", "instruction_following", [
        "Write one sentence about the weather without using the word 'rain'.",
        "Describe today's weather in a sentence; the word 'rain' is not allowed.",
        "In a single sentence about the weather, avoid the word 'rain'.",
        "Write a sentence about the weather. Do not say 'rain'.",
    ], constraints({"kind": "exclude_keywords", "keywords": ["rain"]},
                   {"kind": "include_keywords", "keywords": ["weather"]}), FOLLOW,
        notes="Scored with whole-word matching, so 'rainy' or 'rainbow' do not break the rule.")


def input_queries():
    # The task text and the data it works on are separate (`input`), as in Stage 2 rows with an input.
    add("if-summary-bees", "instruction_following", [
        "Summarize the text below in at most 15 words.",
        "Give a summary of the following passage using 15 words or fewer.",
        "In no more than fifteen words, sum up this text.",
        "Write a one-line summary (15 words maximum) of the passage.",
    ], constraints({"kind": "max_words", "n": 15}, {"kind": "include_keywords", "keywords": ["bees"]}), FOLLOW,
        input="Bees visit flowers to collect nectar and pollen. As they move from flower to flower, they carry "
              "pollen with them, which helps plants make seeds and fruit. Many of the crops people eat depend "
              "on this work.")


def creative_queries():
    add("cr-haiku-rain", "creative", [
        "Write a haiku about rain.", "Compose a three-line haiku on the subject of rain.",
        "Give me a haiku (three lines) about the rain.", "Write a short haiku poem, three lines long, about rain.",
    ], constraints({"kind": "line_count", "n": 3}, {"kind": "include_keywords", "keywords": ["rain"]}), CREATIVE,
        notes="Only the form is checked (3 lines, mentions rain), not syllables or quality.")
    add("cr-dragon-title", "creative", [
        "Write a two-sentence story about a dragon, with a title wrapped in double angular brackets like <<title>>.",
        "Tell a very short story (two sentences) about a dragon and give it a title in the form <<Title>>.",
        "Give a title in double angle brackets, such as <<My Story>>, then a two-sentence story about a dragon.",
        "Create a tiny dragon story of two sentences, titled with <<double angular brackets>>.",
    ], constraints({"kind": "title"}, {"kind": "include_keywords", "keywords": ["dragon"]}), CREATIVE)
    add("cr-sun-two-stanzas", "creative", [
        "Write a short poem about the sun with exactly 2 stanzas separated by a blank line.",
        "Compose a two-stanza poem about the sun; put one blank line between the stanzas.",
        "Write a poem on the sun in two parts, separating the parts with an empty line.",
        "Give me a poem about the sun: two stanzas, a blank line between them.",
    ], constraints({"kind": "paragraph_count", "n": 2, "rule": "blank_lines"},
                   {"kind": "include_keywords", "keywords": ["sun"]}), CREATIVE,
        notes="Stanzas separated by a blank line, as the prompts ask (IFEval separates paragraphs with ***).")
    add("cr-bakery-motto", "creative", [
        "Write a motto for a bakery in at most 12 words, wrapped in double quotation marks.",
        "Invent a bakery slogan of 12 words or fewer and put the whole thing in double quotes.",
        "Give me a short motto for a bakery, no more than twelve words, inside double quotation marks.",
        'Come up with a bakery motto (maximum 12 words) and wrap your entire reply in "double quotes".',
    ], constraints({"kind": "quoted"}, {"kind": "max_words", "n": 12}), CREATIVE)
    add("cr-robot-sections", "creative", [
        "Write a short story about a robot in 2 sections, starting them with SECTION 1 and SECTION 2.",
        "Tell a robot story split into two parts labelled SECTION 1 and SECTION 2.",
        "Create a two-section story about a robot; mark the sections SECTION 1 and SECTION 2.",
        "Write a story about a robot. Divide it into SECTION 1 and SECTION 2.",
    ], constraints({"kind": "section_count", "n": 2, "marker": "SECTION"},
                   {"kind": "include_keywords", "keywords": ["robot"]}), CREATIVE)
    add("cr-note-postscript", "creative", [
        "Write a short note to a friend and end it with a postscript that starts with P.S.",
        "Write a brief message to a friend, adding a P.S. at the end.",
        "Compose a friendly note that finishes with a line beginning 'P.S.'",
        "Send a friend a short note; include a postscript starting with P.S. after the main text.",
    ], constraints({"kind": "postscript", "marker": "P.S."}), CREATIVE)
    add("cr-zebra-letters", "creative", [
        "Write a fun sentence about a zebra that uses the letter 'z' at least 4 times.",
        "Make up a playful sentence about a zebra containing at least four letter z's.",
        "Write one silly sentence about a zebra in which the letter z appears 4 or more times.",
        "Create a sentence about a zebra with the letter 'z' used at least four times.",
    ], constraints({"kind": "letter_frequency", "letter": "z", "n": 4, "relation": "at_least"}), CREATIVE)
    add("cr-spring-happy", "creative", [
        "Write a cheerful four-line poem about spring that uses the word 'happy' at least twice.",
        "Compose a happy poem about spring in 4 lines, using the word 'happy' two or more times.",
        "Write four lines of verse about spring; include the word 'happy' at least two times.",
        "Give me a four-line spring poem in which 'happy' appears at least twice.",
    ], constraints({"kind": "line_count", "n": 4},
                   {"kind": "keyword_frequency", "keyword": "happy", "n": 2, "relation": "at_least"}), CREATIVE)
    add("cr-gym-slogan", "creative", [
        "Write a slogan for a gym that has at least two words in ALL CAPS.",
        "Invent a gym slogan with two or more words written entirely in capital letters.",
        "Create a catchy gym slogan; at least 2 of its words must be in all capitals.",
        "Come up with a slogan for a fitness club, with at least two FULLY CAPITALISED words.",
    ], constraints({"kind": "capital_word_frequency", "n": 2, "relation": "at_least"}), CREATIVE)


# More asserts for the held-out code items than the two each ships with.
EXTRA_CODE_TESTS = {
    "triple": ["assert triple(0) == 0", "assert triple(5) == 15"],
    "is_divisible": ["assert is_divisible(12, 4) is True", "assert is_divisible(7, 2) is False"],
    "list_average": ["assert list_average([5]) == 5"],
    "abs_difference": ["assert abs_difference(-2, 2) == 4", "assert abs_difference(5, 5) == 0"],
    "second_item": ["assert second_item([True, False]) is False"],
    "to_title": ["assert to_title('the big cat') == 'The Big Cat'"],
}


def code_queries(heldout):
    for item in heldout["code"]:
        name, sig, task = item["name"], item["signature"], item["task"]
        tests = [f"assert {name}({', '.join(map(repr, args))}) == {want!r}" for args, want in item["tests"]]
        add(f"code-{name.replace('_', '-')}", "code", [
            item["prompt"], f"Implement {sig} in Python; it {task}.", f"I need a Python function {sig} that {task}.",
            f"Can you code {sig} in Python? Given {item['params']}, it should {task.replace('returns', 'return', 1)}.",
        ], code(name, tests + EXTRA_CODE_TESTS.get(name, [])), CODE, HELDOUT_PATH, HELD_NOTE.format("code"))
    add("code-count-vowels", "code", [
        "Write a Python function count_vowels(s) that returns the number of vowels (a, e, i, o, u) in the string s.",
        "Implement count_vowels(s) in Python: count how many characters of s are vowels (a, e, i, o, u, either case).",
        "Create a Python function named count_vowels that takes a string s and returns how many vowels it contains.",
        "I need count_vowels(s) in Python, returning the count of the letters a, e, i, o and u in s.",
    ], code("count_vowels", ["assert count_vowels('hello') == 2", "assert count_vowels('sky') == 0",
                             "assert count_vowels('AEIOU') == 5", "assert count_vowels('') == 0"]), CODE)
    add("code-factorial", "code", [
        "Write a Python function factorial(n) that returns n! for a non-negative integer n.",
        "Implement factorial(n) in Python; factorial(0) should be 1.",
        "Create a Python function factorial that computes the factorial of n.",
        "In Python, write factorial(n) returning the product 1 * 2 * ... * n (and 1 when n is 0).",
    ], code("factorial", ["assert factorial(0) == 1", "assert factorial(1) == 1", "assert factorial(5) == 120",
                          "assert factorial(10) == 3628800"]), CODE)


def capital_queries(heldout):
    for item in heldout["capitals"]:
        country = item["country"]
        add(f"fact-capital-{country.lower()}", "factual", [
            item["prompt"], f"Which city is the capital of {country}?", f"Name the capital city of {country}.",
            f"{country} has its seat of government in which city?",
        ], exact(item["answer"]), HELD_CAPITAL, HELDOUT_PATH, HELD_NOTE.format("capitals"))


PARAPHRASE_FAMILIES = ("arithmetic", "unit_conversion", "sentiment", "reverse_words", "json_extraction")


def paraphrase_queries(heldout, phrasings):
    # Phrasings 2-3 are Stage 2 training phrasings (the variant with the item written in), 4 is new.
    def stage2(family, i, **fields):
        return phrasings[family][i][1].format(**fields)

    start = len(ROWS)
    for item in heldout["arithmetic"]:
        p = item["problem"]
        add(f"para-arith-{item['name'].lower()}", "paraphrase", [
            item["prompt"], stage2("arithmetic", 0, problem=p), stage2("arithmetic", 1, problem=p),
            f"Here is a little math story: {p} Tell me the number.",
        ], numeric(int(item["answer"])), PARA, HELDOUT_PATH, HELD_NOTE.format("arithmetic"))
    for item in heldout["unit_conversion"]:
        amount, src, dst = item["amount"], item["src"], item["dst"]
        number = item["answer"].split()[0]
        add(f"para-units-{src.lower()}-{dst.lower()}", "paraphrase", [
            item["prompt"], stage2("unit_conversion", 1, amount=amount, src=src, dst=dst),
            stage2("unit_conversion", 3, amount=amount, src=src, dst=dst),
            f"If something measures {amount} {src}, how much is that in {dst}?",
        ], numeric(float(number) if "." in number else int(number), units=[dst]), PARA, HELDOUT_PATH,
            HELD_NOTE.format("unit_conversion") + f" Training answers look like '{item['answer']}'.")
    for number, item in enumerate(heldout["sentiment"], 1):
        review, label = item["review"], item["answer"]
        add(f"para-sentiment-{number}-{label}", "paraphrase", [
            item["prompt"], stage2("sentiment", 0, review=review), stage2("sentiment", 1, review=review),
            f'Here is what a customer wrote: "{review}" Would you call that positive or negative?',
        ], exact(label, distractors=["negative" if label == "positive" else "positive"]), PARA, HELDOUT_PATH,
            HELD_NOTE.format("sentiment"))
    for item in heldout["reverse_words"]:
        phrase = item["phrase"]
        add(f"para-reverse-{phrase.split()[0]}", "paraphrase", [
            item["prompt"], stage2("reverse_words", 0, phrase=phrase), stage2("reverse_words", 2, phrase=phrase),
            f"Take the phrase '{phrase}' and say it again with the last word first and the first word last, "
            "reversing all the words.",
        ], exact(item["answer"]), PARA, HELDOUT_PATH,
            HELD_NOTE.format("reverse_words") + " The input echoed unchanged is the typical failure.")
    for item in heldout["json_extraction"]:
        record = item["record"]
        add(f"para-json-{item['name'].lower()}", "paraphrase", [
            item["prompt"], stage2("json_extraction", 0, record=record), stage2("json_extraction", 1, record=record),
            f"Please pull the name, the age (as a number) and the city out of this line and give them back as JSON: "
            f"{record}",
        ], constraints({"kind": "json_equals", "value": json.loads(item["answer"])}), PARA, HELDOUT_PATH,
            HELD_NOTE.format("json_extraction") + f" Training answers are compact JSON like {item['answer']}.")
    # Item by item across the families, so the first N paraphrase queries (a short evaluation) cover every family.
    family_rows = ROWS[start:]
    per_family = len(family_rows) // len(PARAPHRASE_FAMILIES)
    if len(family_rows) != per_family * len(PARAPHRASE_FAMILIES):
        raise SystemExit(f"{HELDOUT_PATH}: every paraphrase family needs the same number of held-out items")
    families = range(len(PARAPHRASE_FAMILIES))
    ROWS[start:] = [family_rows[f * per_family + i] for i in range(per_family) for f in families]


def load_stage2_phrasings() -> dict:
    # The starter generator is a script, not a package: load it by path (its main() only runs as __main__).
    path = ROOT / "assets" / "datasets" / "make_starter.py"
    spec = importlib.util.spec_from_file_location("make_starter", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_starter"] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module.STAGE2_PHRASINGS


def build_rows() -> list[dict]:
    """All suite rows, in file order (tests compare this with the committed suite.jsonl)."""
    ROWS.clear()
    heldout = json.loads((ROOT / HELDOUT_PATH).read_text(encoding="utf-8"))
    sources = json.loads(SOURCES.read_text(encoding="utf-8"))
    factual_queries()
    more_factual_queries(sources)
    capital_queries(heldout)
    reasoning_queries()
    instruction_queries()
    input_queries()
    rule_queries(sources)
    creative_queries()
    code_queries(heldout)
    paraphrase_queries(heldout, load_stage2_phrasings())
    return list(ROWS)


def main():
    rows = build_rows()
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} queries to {OUT}: {dict(Counter(r['category'] for r in rows))}")


if __name__ == "__main__":
    main()
