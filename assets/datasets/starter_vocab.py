"""The vocabulary of the starter datasets: names, cities, reviews, code operations, capitals, antonyms, and the
held-out items that no training row may use. Data only; make_starter.py beside it turns it into rows."""

def word_list(text: str) -> list[str]:
    return text.split()


def comma_list(text: str) -> list[str]:
    # Long vocabularies are kept as prose-like strings so the formatter does not put one word per line.
    return [part.strip() for part in text.split(",") if part.strip()]


def pair_list(text: str) -> list[tuple[str, str]]:
    return [tuple(part.split(":")) for part in comma_list(text)]


# ---------------------------------------------------------------------------------------------------------------
# Vocabulary. Written by hand for this project; held-out names, products and words are deliberately absent here.
# ---------------------------------------------------------------------------------------------------------------

NAMES = word_list("""
Alice Ben Carla David Emma Felix Grace Hugo Isla Jack Kira Liam Mia Noah Olivia Paul Quinn Rosa Sam Tara Umar Vera
Will Xena Yusuf Zoe Aaron Bella Chen Dana Eli Fatima George Hana Ivan Julia Karl Lena Marco Nina
""")
CITIES = word_list("""
Paris London Berlin Seville Rome Tokyo Toronto Sydney Dublin Vienna Prague Lisbon Athens Cairo Seoul Chicago Boston
Denver Austin Munich Milan Zurich Warsaw Helsinki Madison Glasgow Osaka Mumbai Bogota Montreal
""")
THINGS = word_list("apples marbles stickers pencils cookies stamps coins books cards shells")

# (source unit, target unit, factor): only up-conversions, so every answer is a whole number.
CONVERSIONS = [
    ("km", "m", 1000),
    ("m", "cm", 100),
    ("cm", "mm", 10),
    ("kg", "g", 1000),
    ("L", "mL", 1000),
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("days", "hours", 24),
]
UNIT_VALUES = list(range(2, 13)) + [x + 0.5 for x in range(1, 10)]


PRODUCTS = comma_list("""
blender, backpack, laptop, desk lamp, keyboard, coffee maker, vacuum cleaner, tent, water bottle, camera, sofa,
printer, jacket, bike, toaster, phone case, kettle, mattress, office chair, board game
""")
REVIEW_OPENERS = ["The {product}", "This {product}", "My new {product}"]
POSITIVE_PHRASES = comma_list("""
works perfectly, is worth every penny, exceeded my expectations, is excellent, is better than I hoped, made my week,
is fantastic, is well made and sturdy, did exactly what I needed, is a joy to use, arrived early and looks great,
is the best purchase I made this year
""")
NEGATIVE_PHRASES = comma_list("""
broke after two days, is a waste of money, stopped working within a week, was a huge disappointment, is cheaply made,
arrived damaged, is worse than my old one, fell apart quickly, is terrible, never worked properly,
is overpriced and flimsy, made me regret buying it
""")
POSITIVE_CLOSERS = ["Highly recommended.", "I would buy it again.", "Five stars.", "I love it.", "Great value."]
NEGATIVE_CLOSERS = ["Do not buy it.", "I want a refund.", "One star.", "Very disappointed.", "Avoid it."]

PHRASE_WORDS = word_list("""
red blue green small big quiet happy cold warm bright old new fast slow dog cat bird tree river house car book lamp
chair cloud stone apple bread milk garden window door train boat moon sun star forest city road music paper pencil
table runs jumps sings sleeps reads swims today always never here there under over near with and the a my our every
morning night winter summer friend
""")

# (name, params, task, body). Each task starts with "returns" so all phrasings can inline it the same way.
CODE_OPS = [
    ("add", "a, b", "returns the sum of a and b", "return a + b"),
    ("subtract", "a, b", "returns a minus b", "return a - b"),
    ("multiply", "a, b", "returns the product of a and b", "return a * b"),
    ("divide", "a, b", "returns a divided by b", "return a / b"),
    ("power", "a, b", "returns a raised to the power b", "return a ** b"),
    ("remainder", "a, b", "returns the remainder of a divided by b", "return a % b"),
    ("maximum", "a, b", "returns the larger of a and b", "return max(a, b)"),
    ("minimum", "a, b", "returns the smaller of a and b", "return min(a, b)"),
    ("average", "a, b", "returns the average of a and b", "return (a + b) / 2"),
    ("square", "x", "returns x squared", "return x * x"),
    ("cube", "x", "returns x cubed", "return x ** 3"),
    ("double", "x", "returns x times two", "return x * 2"),
    ("half", "x", "returns half of x", "return x / 2"),
    ("negate", "x", "returns the negative of x", "return -x"),
    ("absolute", "x", "returns the absolute value of x", "return abs(x)"),
    ("increment", "x", "returns x plus one", "return x + 1"),
    ("decrement", "x", "returns x minus one", "return x - 1"),
    ("is_even", "n", "returns True if n is even", "return n % 2 == 0"),
    ("is_odd", "n", "returns True if n is odd", "return n % 2 == 1"),
    ("is_positive", "n", "returns True if n is greater than zero", "return n > 0"),
    ("is_negative", "n", "returns True if n is less than zero", "return n < 0"),
    ("to_upper", "s", "returns s in uppercase", "return s.upper()"),
    ("to_lower", "s", "returns s in lowercase", "return s.lower()"),
    ("reverse_string", "s", "returns s reversed", "return s[::-1]"),
    ("first_char", "s", "returns the first character of s", "return s[0]"),
    ("last_char", "s", "returns the last character of s", "return s[-1]"),
    ("string_length", "s", "returns the number of characters in s", "return len(s)"),
    ("count_words", "s", "returns the number of words in s", "return len(s.split())"),
    ("concat", "a, b", "returns the strings a and b joined together", "return a + b"),
    ("repeat", "s, n", "returns s repeated n times", "return s * n"),
    ("list_sum", "items", "returns the sum of the numbers in items", "return sum(items)"),
    ("list_max", "items", "returns the largest number in items", "return max(items)"),
    ("list_min", "items", "returns the smallest number in items", "return min(items)"),
    ("list_length", "items", "returns how many elements items has", "return len(items)"),
    ("first_item", "items", "returns the first element of items", "return items[0]"),
    ("last_item", "items", "returns the last element of items", "return items[-1]"),
    ("reverse_list", "items", "returns items in reverse order", "return items[::-1]"),
    ("sort_list", "items", "returns items sorted in ascending order", "return sorted(items)"),
    ("is_empty", "items", "returns True if items is empty", "return len(items) == 0"),
    ("contains", "items, x", "returns True if x is in items", "return x in items"),
    ("celsius_to_fahrenheit", "c", "returns c degrees Celsius in Fahrenheit", "return c * 9 / 5 + 32"),
    ("rectangle_area", "w, h", "returns the area of a rectangle with width w and height h", "return w * h"),
    ("square_perimeter", "side", "returns the perimeter of a square with side length side", "return 4 * side"),
]

CAPITALS = pair_list("""
France:Paris, Germany:Berlin, Italy:Rome, Portugal:Lisbon, Japan:Tokyo, China:Beijing, India:New Delhi,
Egypt:Cairo, Canada:Ottawa, Australia:Canberra, Brazil:Brasilia, Mexico:Mexico City, Argentina:Buenos Aires,
Russia:Moscow, United Kingdom:London, Ireland:Dublin, Greece:Athens, Turkey:Ankara, Norway:Oslo, Finland:Helsinki,
Denmark:Copenhagen, Poland:Warsaw, Austria:Vienna, Switzerland:Bern, Netherlands:Amsterdam, Belgium:Brussels,
Hungary:Budapest, Czech Republic:Prague, South Korea:Seoul, Thailand:Bangkok, Indonesia:Jakarta,
Philippines:Manila, Iran:Tehran, Iraq:Baghdad, Saudi Arabia:Riyadh, Nigeria:Abuja, Ethiopia:Addis Ababa,
Morocco:Rabat, Chile:Santiago, Colombia:Bogota, Cuba:Havana, New Zealand:Wellington, Ukraine:Kyiv,
Romania:Bucharest, Bulgaria:Sofia, Serbia:Belgrade, Croatia:Zagreb, Iceland:Reykjavik, Pakistan:Islamabad,
Bangladesh:Dhaka, Nepal:Kathmandu, Malaysia:Kuala Lumpur, Ghana:Accra, Senegal:Dakar, Venezuela:Caracas,
Uruguay:Montevideo, Jamaica:Kingston, Lebanon:Beirut, Jordan:Amman, Qatar:Doha, Estonia:Tallinn, Latvia:Riga,
Lithuania:Vilnius
""")

# Directed pairs: only directions with one obvious answer, so an exact-match scorer is fair.
ANTONYMS = pair_list("""
hot:cold, cold:hot, fast:slow, slow:fast, happy:sad, sad:happy, dark:light, up:down, down:up, open:closed,
closed:open, early:late, late:early, full:empty, empty:full, strong:weak, weak:strong, rich:poor, poor:rich,
soft:hard, young:old, wet:dry, dry:wet, clean:dirty, dirty:clean, true:false, false:true, win:lose, buy:sell,
sell:buy, push:pull, pull:push, inside:outside, outside:inside, above:below, below:above, first:last, heavy:light,
thick:thin, thin:thick, loud:quiet, safe:dangerous, dangerous:safe, friend:enemy, enemy:friend, question:answer,
day:night, night:day, north:south, south:north, east:west, west:east, always:never, never:always, accept:reject,
increase:decrease, decrease:increase, arrive:depart, smooth:rough, cheap:expensive, expensive:cheap, awake:asleep,
asleep:awake, entrance:exit
""")

# Items an evaluation suite tests on. The generator refuses to emit any training row that touches them.
HELDOUT_ITEMS = {
    "arithmetic": [
        {"op": "add", "a": 27, "b": 15, "name": "Ingrid", "thing": "apples"},
        {"op": "add", "a": 38, "b": 46, "name": "Tomasz", "thing": "stamps"},
        {"op": "sub", "a": 53, "b": 19, "name": "Priya", "thing": "marbles"},
        {"op": "sub", "a": 41, "b": 7, "name": "Kwame", "thing": "cookies"},
        {"op": "mul", "a": 7, "b": 8, "name": "Haruto", "thing": "pencils"},
        {"op": "div", "a": 54, "b": 6, "name": "Beatriz", "thing": "cards"},
    ],
    "unit_conversion": [
        {"value": 4.5, "src": "km", "dst": "m"},
        {"value": 7, "src": "hours", "dst": "minutes"},
        {"value": 2.5, "src": "kg", "dst": "g"},
        {"value": 9, "src": "days", "dst": "hours"},
        {"value": 6.5, "src": "L", "dst": "mL"},
        {"value": 8, "src": "cm", "dst": "mm"},
    ],
    "sentiment": [
        {"review": "The umbrella survived a real storm and kept me dry. Love it.", "label": "positive"},
        {"review": "These running shoes gave me blisters on the first day. Sending them back.", "label": "negative"},
        {"review": "Setup took two minutes and the speaker sounds amazing.", "label": "positive"},
        {"review": "The charger overheats and the cable frayed within a month.", "label": "negative"},
        {"review": "Such a cozy blanket, my kids fight over it every night.", "label": "positive"},
        {"review": "The soup was cold and bland, and the waiter ignored us.", "label": "negative"},
    ],
    "reverse_words": [
        {"phrase": "the cat sat down"},
        {"phrase": "green apples taste sour"},
        {"phrase": "we walk to school"},
        {"phrase": "bright stars shine tonight"},
        {"phrase": "my old red car"},
        {"phrase": "birds sing every spring"},
    ],
    "json_extraction": [
        {"name": "Ingrid", "age": 47, "city": "Bergen"},
        {"name": "Tomasz", "age": 29, "city": "Krakow"},
        {"name": "Priya", "age": 35, "city": "Chennai"},
        {"name": "Kwame", "age": 52, "city": "Kumasi"},
        {"name": "Haruto", "age": 23, "city": "Sapporo"},
        {"name": "Beatriz", "age": 61, "city": "Porto"},
    ],
    "code": [
        {
            "name": "triple",
            "params": "x",
            "task": "returns x multiplied by three",
            "body": "return x * 3",
            "tests": [[[2], 6], [[-4], -12]],
        },
        {
            "name": "is_divisible",
            "params": "a, b",
            "task": "returns True if a is divisible by b",
            "body": "return a % b == 0",
            "tests": [[[9, 3], True], [[10, 4], False]],
        },
        {
            "name": "list_average",
            "params": "items",
            "task": "returns the average of the numbers in items",
            "body": "return sum(items) / len(items)",
            "tests": [[[[2, 4, 6]], 4.0], [[[1, 2]], 1.5]],
        },
        {
            "name": "abs_difference",
            "params": "a, b",
            "task": "returns the absolute difference between a and b",
            "body": "return abs(a - b)",
            "tests": [[[3, 10], 7], [[10, 3], 7]],
        },
        {
            "name": "second_item",
            "params": "items",
            "task": "returns the second element of items",
            "body": "return items[1]",
            "tests": [[[[5, 6, 7]], 6], [[["a", "b"]], "b"]],
        },
        {
            "name": "to_title",
            "params": "s",
            "task": "returns s in title case",
            "body": "return s.title()",
            "tests": [[["hello world"], "Hello World"], [["abc"], "Abc"]],
        },
    ],
    "capitals": [
        {"country": "Kenya", "capital": "Nairobi"},
        {"country": "Spain", "capital": "Madrid"},
        {"country": "Peru", "capital": "Lima"},
        {"country": "Sweden", "capital": "Stockholm"},
        {"country": "Vietnam", "capital": "Hanoi"},
        {"country": "Mongolia", "capital": "Ulaanbaatar"},
    ],
    "antonyms": [
        {"word": "wide", "antonym": "narrow"},
        {"word": "ancient", "antonym": "modern"},
        {"word": "brave", "antonym": "cowardly"},
        {"word": "victory", "antonym": "defeat"},
        {"word": "shallow", "antonym": "deep"},
        {"word": "borrow", "antonym": "lend"},
    ],
}

# ---------------------------------------------------------------------------------------------------------------
# Phrasings. Stage 1 gets exactly one per family; Stage 2 gets (instruction when the item goes in `input`,
# instruction with the item inlined). None of the Stage 2 phrasings repeats the Stage 1 one (checked below).
# ---------------------------------------------------------------------------------------------------------------

STAGE1_TEMPLATES = {
    "arithmetic": "Solve: {problem}",
    "unit_conversion": "Convert {amount} {src} to {dst}.",
    "sentiment": "Sentiment: {review}",
    "reverse_words": "Reverse the word order: {phrase}",
    "json_extraction": "Extract JSON: {record}",
    "code": "Write a Python function {signature} that {task}.",
    "capitals": "What is the capital of {country}?",
    "antonyms": "Give the antonym of {word}.",
}

STAGE2_PHRASINGS = {
    "arithmetic": [
        (
            "Solve the word problem below. Reply with just the number.",
            "Solve this word problem and reply with just the number: {problem}",
        ),
        ("Answer the question in the text. Give only the final number.", "{problem} Give only the final number."),
        ("Work out the answer.", "Work out the answer: {problem}"),
        ("Read the problem and give the numeric answer.", "Read the problem and give the numeric answer.\n{problem}"),
        ("What is the answer to this math question?", "What is the answer to this math question? {problem}"),
        (
            "Calculate the result of the following story problem.",
            "Calculate the result of this story problem: {problem}",
        ),
        (
            "Find the answer. Respond with a single number.",
            "Find the answer and respond with a single number. {problem}",
        ),
        ("How many are there? Answer with the number only.", "{problem} Answer with the number only."),
        ("Help me with this arithmetic question.", "Help me with this arithmetic question: {problem}"),
        ("Compute the answer to the problem.", "Problem: {problem}\nCompute the answer."),
    ],
    "unit_conversion": [
        ("Convert the quantity below.", "Convert {amount} {src} into {dst}."),
        ("Do this unit conversion.", "How many {dst} are in {amount} {src}?"),
        ("Change the units as requested.", "Express {amount} {src} in {dst}."),
        ("Convert the measurement. Give the number and the unit.", "What is {amount} {src} in {dst}?"),
        ("Perform the following unit conversion.", "Please turn {amount} {src} into {dst}."),
        ("Give the converted value with its unit.", "{amount} {src} equals how many {dst}?"),
        ("Unit conversion:", "Unit conversion: {amount} {src} to {dst}"),
        ("Rewrite this amount in the target unit.", "Rewrite {amount} {src} in {dst}."),
        ("I need this converted.", "I need {amount} {src} converted to {dst}."),
        ("Translate the quantity to the new unit.", "Change {amount} {src} to {dst}."),
    ],
    "sentiment": [
        (
            "Classify the sentiment of this review as positive or negative.",
            "Classify the sentiment of this review as positive or negative: {review}",
        ),
        ("Is the following review positive or negative?", "Is this review positive or negative? {review}"),
        (
            "Decide whether the customer was happy. Answer positive or negative.",
            "Review: {review}\nWas the customer happy? Answer positive or negative.",
        ),
        ("What is the sentiment of the text?", "What is the sentiment of this text? {review}"),
        ("Label the tone of the review.", "Label the tone of this review as positive or negative.\n{review}"),
        (
            "Tell me if this feedback is positive or negative.",
            "Tell me if this feedback is positive or negative: {review}",
        ),
        ("Determine the sentiment.", "Determine the sentiment of: {review}"),
        (
            "Read the product review and give its sentiment.",
            "Read this product review and give its sentiment. {review}",
        ),
        (
            "Sentiment analysis task. Reply with one word.",
            "{review}\nIs that positive or negative? Reply with one word.",
        ),
        ("How does the reviewer feel about the product?", 'How does the reviewer feel? "{review}"'),
    ],
    "reverse_words": [
        ("Reverse the order of the words.", "Reverse the order of the words in: {phrase}"),
        ("Write the words below in reverse order.", "Write these words in reverse order: {phrase}"),
        ("Flip the word order of this phrase.", 'Flip the word order of "{phrase}".'),
        ("Put the words in backwards order.", 'Put the words of "{phrase}" in backwards order.'),
        ("Say the phrase with its words reversed.", 'Say "{phrase}" with its words reversed.'),
        ("Reorder the words from last to first.", "Reorder these words from last to first: {phrase}"),
        ("Rewrite the text so the last word comes first.", 'Rewrite "{phrase}" so the words appear in reverse order.'),
        ("Reverse the sequence of words.", "Reverse the sequence of words: {phrase}"),
        ("Read the words backwards, word by word.", "Read this backwards, word by word: {phrase}"),
    ],
    "json_extraction": [
        ("Extract the fields as JSON.", "Extract the fields as JSON: {record}"),
        (
            "Convert this record to a JSON object with keys name, age and city.",
            "Convert to a JSON object with keys name, age and city: {record}",
        ),
        ("Turn the text into JSON.", "Turn this into JSON. {record}"),
        ("Parse the person details into JSON.", "Parse these person details into JSON:\n{record}"),
        ("Give me the information below as a JSON object.", "Give me this as a JSON object: {record}"),
        ("Output JSON for the following data.", "Output JSON for: {record}"),
        ("Structure this profile as JSON.", "Structure this profile as JSON -> {record}"),
        (
            "Return a JSON object with name, age (a number) and city.",
            "{record}\nReturn a JSON object with name, age (a number) and city.",
        ),
        ("Represent the record in JSON format.", 'Represent "{record}" in JSON format.'),
    ],
    "code": [
        ("Write the Python function described below.", "Write Python code for {signature}; it {task}."),
        ("Implement this function in Python.", "Implement {signature} in Python; it {task}."),
        ("Write Python code for the following function.", "Define a Python function {signature} which {task}."),
        (
            "Create a Python function matching this spec. Reply with code only.",
            "Create {signature} in Python. It {task}.",
        ),
        ("Code this function in Python.", "In Python, write {signature} so that it {task}."),
        ("Give a short Python implementation.", "Give a Python implementation of {signature} that {task}."),
        ("Please write this helper in Python.", "Please write a Python helper {signature}; it {task}."),
        ("Finish this Python function.", "I need a Python function {signature} that {task}."),
        ("Show the Python definition for this function.", "Show the Python definition of {signature}, which {task}."),
    ],
    "capitals": [
        ("Name the capital city of this country.", "Name the capital city of {country}."),
        ("What is the capital of the country below?", "What's the capital of {country}?"),
        ("Give the capital.", "Give the capital of {country}."),
        ("Which city is the capital of this country?", "Which city is the capital of {country}?"),
        ("Tell me the capital city.", "Tell me the capital city of {country}."),
        ("Capital city lookup.", "{country}: what is its capital?"),
        ("Identify the capital of the given country.", "Identify the capital of {country}."),
        ("Answer with the name of the capital.", "The capital of {country} is which city?"),
        ("In which city is this country's government based?", "In which city is the government of {country} based?"),
    ],
    "antonyms": [
        ("Give the opposite of this word.", 'Give the opposite of "{word}".'),
        ("What is the antonym of the word below?", 'What is the antonym of "{word}"?'),
        ("Write a word that means the opposite.", "Write a word that means the opposite of {word}."),
        ("Find the antonym.", "Find the antonym of {word}."),
        ("Opposite word, please.", "What's the opposite of {word}?"),
        ("Name the word with the opposite meaning.", "Name a word with the opposite meaning to {word}."),
        ("Reply with the antonym only.", 'Antonym for "{word}"? Reply with the word only.'),
        ("Which word is the opposite of this one?", "Which word is the opposite of {word}?"),
        ("Provide an antonym.", "Provide an antonym for {word}."),
    ],
}

# Rejected answers for preference pairs: the right answer buried in filler, so DPO learns "concise" as well as
# "correct" (the other half of the rejected answers are plainly wrong).
RAMBLE_TEMPLATES = [
    (
        "Great question! Questions like this come up a lot and people often get them wrong. Let me think about it "
        "step by step for a while. I believe the answer is {answer}, although I could be mistaken, so please check."
    ),
    (
        "Well, there are a few ways to look at this, and it depends a bit on how you read it. After going back and "
        "forth, I would say {answer}. But honestly, it could be something else, so do not rely on me."
    ),
    (
        "Sure, I can help with that! Before answering, it is worth saying that tasks like this can be tricky. "
        "Anyway, my answer is {answer}. I hope this helps, and let me know if you want a longer explanation!"
    ),
]
# Code gets its own filler: a multi-line answer cannot sit in the middle of a sentence.
CODE_RAMBLE_TEMPLATES = [
    (
        "Sure! There are many ways to write this, and the best one depends on your style and your Python version. "
        "Here is one that should work, I think:\n{answer}\nLet me know if you want me to explain every line in detail!"
    ),
    (
        "Great question! Before writing any code it helps to think about edge cases, naming, type hints, tests and "
        "documentation. Keeping all of that in mind, a possible version is:\n{answer}\nThere may be better ones."
    ),
]

ARITHMETIC_STORIES = {
    "add": "{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?",
    "sub": "{name} has {a} {thing} and gives {b} away. How many {thing} does {name} have left?",
    "mul": "{name} has {a} bags with {b} {thing} in each bag. How many {thing} does {name} have in total?",
    "div": "{name} shares {a} {thing} equally among {b} friends. How many {thing} does each friend get?",
}
UNIT_FACTORS = {(src, dst): factor for src, dst, factor in CONVERSIONS}

# Preference pairs: a wrong answer stated as fact (`{wrong}` is the family's wrong answer). Bare wrong answers are
# kept too, so "confident" is not just "longer".
CONFIDENT_WRONG_TEMPLATES = ["{wrong}", "{wrong}", "It is definitely {wrong}.", "The answer is {wrong}, no doubt.",
                             "Certainly: {wrong}."]
# Preference pairs with a constraint added to the prompt: (suffix, chosen style, rejected style, families). The
# chosen answer keeps the constraint, the rejected one breaks it; both carry the right answer. The styles are
# applied by make_starter.py: "same", "lower", "upper", or a template around {answer}.
CONSTRAINT_RULES = [
    (" Reply in lowercase letters only.", "lower", "upper", ("capitals", "antonyms", "sentiment", "reverse_words")),
    (" Give only the answer, nothing else.", "same", "Sure! The answer is {answer}. Let me know if you need more.",
     ("arithmetic", "unit_conversion", "sentiment", "capitals", "antonyms", "reverse_words", "json_extraction")),
    (" Answer in at most three words.", "same", "I am fairly sure that the correct answer to this one is {answer}.",
     ("arithmetic", "unit_conversion", "sentiment", "capitals", "antonyms")),
    (" Reply with the code only, no explanation.", "same",
     "Here is the function you asked for:\n{answer}\nIt does exactly what the task says.", ("code",)),
]
# GRPO prompts that ask for a form as well as a fact; each becomes a `constraints` check (evalsuite/ifeval.py).
# (template, constraints, family the item comes from); `{answer}` in a constraint is the item's answer. The case
# checks use rule "any_language": the prompts ask for a case, not for English, and a one-word answer such as
# "tehran" is no text for language detection (IFEval's own case rule also wants langdetect to say English).
GRPO_CONSTRAINT_PROMPTS = [
    ("What is the capital of {country}? Reply in lowercase letters only.",
     [{"kind": "lowercase", "rule": "any_language"}, {"kind": "include_keywords", "keywords": ["{answer}"]}],
     "capitals"),
    ("Give the antonym of {word} in capital letters.",
     [{"kind": "uppercase", "rule": "any_language"}, {"kind": "include_keywords", "keywords": ["{answer}"]}],
     "antonyms"),
    ("In at most five words, name the capital of {country}.",
     [{"kind": "max_words", "n": 5}, {"kind": "include_keywords", "keywords": ["{answer}"]}], "capitals"),
    ("Give the opposite of {word} in one word, without using any commas.",
     [{"kind": "max_words", "n": 1}, {"kind": "no_commas"}, {"kind": "include_keywords", "keywords": ["{answer}"]}],
     "antonyms"),
]
