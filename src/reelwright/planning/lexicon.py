"""The words the built-in planner understands: patterns for times, aspects, overlays and modes, and
small vocabularies (verbs, places, styles, lighting) with the tests `parse.py` builds on."""

from __future__ import annotations

import re

SMALL_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}

_DIGITS = r"one|two|three|four|five|six|seven|eight|nine"
NUMWORD = (rf"(?:(?:{'|'.join(TENS)})(?:[-\s](?:{_DIGITS}))?|(?:a|one)\s+hundred|"
           rf"{'|'.join(sorted(SMALL_NUMBERS, key=len, reverse=True))})")
NUM = rf"(?:\d+(?:\.\d+)?|\b{NUMWORD}|\ba\s+couple\s+of|\ban?)"
UNIT = r"(?:hours?|hrs?|minutes?|mins?|seconds?|secs?|h|m|s)"
_UNIT_LONG = r"(?:hours?|hrs?|minutes?|mins?|seconds?|secs?)"


def _rx(pattern: str, flags: int = re.I) -> re.Pattern[str]:
    return re.compile(pattern, flags)


# ---------------------------------------------------------------- duration

DURATION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("and_half_after", _rx(rf"(?<![\w.]){'(?P<n>' + NUM + ')'}[\s-]*(?P<u>{_UNIT_LONG})\s+and\s+a\s+half\b")),
    ("and_half_before", _rx(rf"(?<![\w.]){'(?P<n>' + NUM + ')'}\s+and\s+a\s+half[\s-]+(?P<u>{_UNIT_LONG})\b")),
    ("half", _rx(r"\bhalf(?:[\s-]+an?)?[\s-]+(?P<u>hour|minute|min)\b")),
    ("quarter", _rx(r"\b(?:a\s+)?quarter(?:\s+of)?(?:\s+an?)?[\s-]+hour\b")),
    ("compound", _rx(rf"(?<![\w.])(?P<n1>{NUM})\s*-?\s*(?P<u1>{UNIT})(?![a-z'’])[\s,]*(?:and\s+)?"
                     rf"(?P<n2>\d+(?:\.\d+)?|\b{NUMWORD})\s*-?\s*(?P<u2>{UNIT})\b")),
    ("clock", _rx(r"(?<![\d:/.])\d{1,2}:[0-5]\d(?::[0-5]\d)?(?![\d:])(?!\s*(?:am|pm|a\.m|p\.m)\b)")),
    ("simple", _rx(rf"(?<![\w.])(?P<n>{NUM})(?P<sep>\s*-\s*|\s+)?(?P<u>{UNIT})(?![\w'’])")),
)
DURATION_TAIL = _rx(r"(?:\s*-\s*long\b|\s+long\b|\s+in\s+length\b|\s+in\s+total\b|\s+total\b)")
DURATION_HEAD = _rx(r"\b(?:lasting|about|around|roughly|approximately|exactly|just)\s*$")
DURATION_NOUN_AFTER = _rx(
    r"\s*(?:-\s*|\s)?(?:long\b\s*)?(?:[\w'’-]+\s+){0,2}?(?:video|clip|film|movie|ad|advert|commercial|reel|spot|"
    r"short|trailer|teaser|animation|promo|story|montage|vlog|edit|piece|sequence|cut|version|reveal|ident|intro|"
    r"outro|tiktok|long)\b")
DURATION_CUE_BEFORE = _rx(
    r"\b(?:an?|make\s+it|about|around|roughly|approximately|exactly|total(?:ling)?|lasting|length(?:\s+of)?|"
    r"duration(?:\s+of)?|runtime(?:\s+of)?|under|at\s+most|no\s+more\s+than|up\s+to|of)\s*$")
_DECADE_AFTER = _rx(r"\s*(?:-|\s)(?:style|vibes?|aesthetic|music|era|look|fashion|retro|hair|movie|film|cartoon|"
                    r"anime|sitcom|tv|rock|pop|disco|kids?|nostalgia|synth\w*)\b")


def DECADE_CONTEXT(text: str, m: re.Match[str]) -> bool:
    """'the 80s', "'90s", '1990s', '80s style': a decade, not seconds."""
    n = m.group("n").strip()
    if re.fullmatch(r"(?:1[89]|20)\d0", n):
        return True
    if not re.fullmatch(r"[1-9]0", n):
        return False
    return bool(re.search(r"(?:\bthe|['’])\s*$", text[: m.start()], re.I) or _DECADE_AFTER.match(text, m.end()))


# ---------------------------------------------------------------- overlays and taglines

QUOTE = (r"(?:\"(?P<q1>[^\"\n]+)\"|“(?P<q2>[^”\n]+)”|(?<!\w)'(?P<q3>(?:[^'\n]|(?<=\w)'(?=\w))+)'(?!\w)"
         r"|‘(?P<q4>(?:[^’\n]|(?<=\w)’(?=\w))+)’)")
_TIME = r"(?:\d+:\d{1,2}(?:\.\d+)?(?::\d{1,2})?|\d+(?:\.\d+)?\s*(?:seconds?|secs?|s)\b|\d+(?:\.\d+)?(?![\d.:%]|\s*(?:min|m\b)))"
_DUR = rf"(?:{NUM}\s*-?\s*{UNIT}\b|\d+(?:\.\d+)?(?![\d.:%]))"
_MODS = (
    rf"(?:for|during|in|over)\s+the\s+(?:last|final|closing)\s+(?P<last>{_DUR})",
    rf"(?:for|during|in|over)\s+the\s+(?:first|opening)\s+(?P<first>{_DUR})",
    r"(?P<startw>(?:at|from|in|to)\s+the\s+(?:very\s+)?(?:start|beginning|opening))",
    r"(?P<endw>(?:at|in|to)\s+the\s+(?:very\s+)?end|at\s+the\s+(?:close|finish))",
    rf"(?:at|from|starting\s+at|beginning\s+at|@)\s*(?P<at>{_TIME})",
    rf"(?:for|lasting)\s+(?P<dur>{_DUR})",
    rf"(?:until|till|to)\s+(?P<until>{_TIME})",
    r"(?:at|on|in|across)\s+the\s+(?P<pos>top|bottom|center|centre|middle|lower[\s-]third)",
)
OVERLAY_MOD = _rx("|".join(_MODS))
_MOD_ANON = re.sub(r"\?P<\w+>", "?:", "|".join(_MODS))
OVERLAY = _rx(
    r"(?:\b(?P<verb>show|display|overlay|put\s+up|put|add|write|flash|superimpose|pop\s+up)\b\s+(?:(?:a|an|the)\s+)?)?"
    r"(?:\b(?P<kind>title\s+card|end\s+card|end\s+screen|end\s+slate|outro\s+card|outro|title|lower[-\s]third|caption|"
    r"subtitle|banner|headline|text|words?|label|card)\b\s*)?"
    r"(?:(?P<conn>saying|reading|that\s+says|that\s+reads|with\s+(?:the\s+)?(?:text|words?|caption|title)|with|of|:)\s*)?"
    + QUOTE + rf"(?P<mods>(?:\s*,?\s*(?:{_MOD_ANON}))*)")
TAGLINE = _rx(r"\b(?:with\s+(?:the\s+|a\s+)?)?(?:tagline|slogan|motto|strapline|catch\s*phrase|call[\s-]to[\s-]action|cta)"
              r"\b\s*(?:is|of|:|saying|reading|that\s+says|-)?\s*" + QUOTE)

# ---------------------------------------------------------------- aspect and format

ASPECT_RATIO = _rx(r"(?:\b(?:in|at|as)\s+(?:an?\s+)?)?\b(?P<a>\d{1,2})\s*[:x×]\s*(?P<b>\d{1,2})\b"
                   r"(?:\s+(?:aspect(?:\s+ratio)?|ratio|format|orientation))?")
_FOR = r"(?:\b(?:for|on)\s+(?:(?:a|an|my|our|the)\s+)?)"
_FMT = r"(?:\s+(?P<fmt>mode|format|orientation|aspect(?:\s+ratio)?|ratio|crop))?"
_SHAPE = r"(?:\b(?P<lead>in|as)\s+(?:a\s+)?)?\b(?P<w>{})\b" + _FMT
ASPECT_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_rx(rf"{_FOR}?\b(?:instagram|ig)\s+(?:stories|story|reels?)\b"), "9:16"),
    (_rx(rf"{_FOR}?\b(?:tik\s*tok|youtube\s+shorts|snapchat)\b"), "9:16"),
    (_rx(rf"{_FOR}(?:reels?|shorts|stories|whatsapp\s+status)\b"), "9:16"),
    (_rx(rf"{_FOR}?\b(?:instagram|ig)\s+(?:feed|post|grid)\b"), "1:1"),
    (_rx(rf"{_FOR}(?:instagram|ig)\b"), "1:1"),
    (_rx(rf"{_FOR}?\byoutube\b(?!\s+shorts)"), "16:9"),
    (_rx(_SHAPE.format("vertical|portrait")), "9:16"),
    (_rx(_SHAPE.format("square")), "1:1"),
    (_rx(_SHAPE.format("widescreen|wide-screen|landscape|horizontal")), "16:9"),
    (_rx(_SHAPE.format("ultra-?wide|cinemascope")), "21:9"),
)
ASPECT_NOUN_AFTER = _rx(r"\s*(?:video|clip|reel|film|movie|ad|format|frame|version)\b")
RESOLUTION = _rx(r"(?:\b(?:in|at)\s+)?\b(?P<res>\d{3,4}p|4k|uhd|full\s+hd)\b")
FPS = _rx(r"(?:\bat\s+)?\b(?P<fps>\d+(?:\.\d+)?)\s*(?:fps|frames\s+(?:per|a)\s+second)\b")
STATED_SETTING = _rx(
    r"\b(?:(?:is\s+|it's\s+)?set|takes?\s+place|taking\s+place|located)\s+(?P<place>(?:in|at|on|inside|aboard)\b[^,.;\n]+)"
    r"|\b(?:setting|location)\s*:\s*(?P<place2>[^,.;\n]+)")

# ---------------------------------------------------------------- mode, style, lighting, colour

MODE_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("brand-identity", _rx(r"\bbrand(?:ing)?\s+identity|\blogo\s+(?:reveal|animation|intro|sting|ident)|\banimated\s+logo|"
                           r"\bbrand\s+(?:ident|reveal|sting)|\bident\b|\bbranding\b")),
    ("ugc-product", _rx(r"\bugc\b|\buser[\s-]generated|\bproduct\b|\b(?:ad|advert|advertisement|commercial|promo)\s+(?:for|of)\b|"
                        r"\bunboxing\b|\btestimonial\b|\binfluencer\b|\b(?:tiktok|instagram)\s+ad\b|\bsponsored\b")),
    ("short-film", _rx(r"\bshort[\s-](?:film|movie)|\b(?:film|movie|tale)\s+(?:about|of)\b|\bstory\b|\bnarrative\b|\bshort\s+story|"
                       r"\btrailer\b|\bthree[\s-]act\b|\bplot\b|\bdrama\b|\bthriller\b")),
)


def _words(table: list[tuple[str, str]]) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((_rx(rf"\b(?:{pattern})\b"), value) for value, pattern in table)


STYLE_WORDS = _words([
    ("cinematic", r"cinematic|filmic"), ("anime", r"anime|manga"), ("documentary", r"documentary"),
    ("claymation", r"claymation|clay\s+animation|plasticine"), ("stop-motion", r"stop[\s-]?motion"),
    ("watercolour", r"watercolou?r"), ("3D animated", r"pixar[\s-]?(?:style|like)|3d[\s-]animat\w*|cgi"),
    ("cartoon", r"cartoon(?:ish|y)?"), ("hand-drawn", r"hand[\s-]drawn|2d\s+animat\w*"),
    ("film noir", r"film\s+noir|noir"), ("black and white", r"black[\s-]and[\s-]white|b&w|monochrome"),
    ("vintage", r"vintage"), ("retro", r"retro"), ("VHS", r"vhs"), ("16mm film", r"16\s?mm"),
    ("35mm film", r"35\s?mm"), ("super 8", r"super\s?8|8\s?mm"), ("handheld", r"hand-?held"), ("lo-fi", r"lo-?fi"),
    ("photorealistic", r"photo[\s-]?realistic|hyper[\s-]?realistic|realistic|live[\s-]action"),
    ("dreamy", r"dreamy|dreamlike|ethereal"), ("surreal", r"surreal"), ("minimalist", r"minimal(?:ist)?"),
    ("pastel", r"pastel"), ("neon", r"neon"), ("cyberpunk", r"cyberpunk"), ("steampunk", r"steampunk"),
    ("fantasy", r"fantasy"), ("epic", r"epic"), ("moody", r"moody"), ("whimsical", r"whimsical|playful"),
    ("slow motion", r"slow[\s-]?mo(?:tion)?"), ("time-lapse", r"time[\s-]?lapse"), ("aerial", r"aerial|drone\s+shots?"),
    ("pixel art", r"pixel[\s-]art|8[\s-]bit"), ("low-poly", r"low[\s-]poly"), ("comic book", r"comic[\s-]book"),
    ("oil painting", r"oil[\s-]paint\w*"), ("paper cut-out", r"paper[\s-]cut[\s-]?out|papercraft|origami"),
])
STYLE_PHRASE = _rx(r"\bin\s+(?:an?\s+)?[\w&'-]+(?:\s+[\w&'-]+)?\s+style\b|\bin\s+the\s+style\s+of\s+[^,.;\n]+|\b[\w&]+-style\b")
LIGHTING_WORDS = _words([
    ("warm, low golden-hour sunlight", r"golden\s+hour"),
    ("warm sunset light with long soft shadows", r"sunset|sundown|dusk"),
    ("soft pink-gold dawn light", r"sunrise|dawn|daybreak"),
    ("cool blue-hour twilight", r"blue\s+hour|twilight"),
    ("night-time light from streetlamps and soft moonlight", r"at\s+night|night[\s-]?time|night|midnight|nocturnal"),
    ("silvery moonlight", r"moonlit|moonlight"), ("flickering warm candlelight", r"candle[\s-]?lit|candlelight"),
    ("vivid neon light with coloured reflections", r"neon"),
    ("soft diffused overcast light", r"overcast|cloudy|grey\s+day|gray\s+day"),
    ("moody diffused light of a rainy day", r"rain(?:y|ing)?|storm(?:y)?"),
    ("hazy light diffused through fog", r"fog(?:gy)?|mist(?:y)?"),
    ("soft early-morning light", r"morning"),
    ("bright natural sunlight", r"afternoon|sunny|sunshine|summer"),
    ("clean, even studio lighting", r"studio"),
])
COLOUR = _rx(r"#[0-9a-f]{6}\b|\b(?:red|crimson|orange|amber|yellow|gold|golden|green|emerald|teal|turquoise|cyan|blue|"
             r"navy|purple|violet|magenta|pink|black|white|silver|grey|gray|beige|cream|coral|mint|lavender|maroon|"
             r"burgundy|charcoal|ivory|copper|bronze)\b")

# ---------------------------------------------------------------- product and brand

PRODUCT = _rx(
    r"\b(?:ad|advert|advertisement|commercial|promo|promotion|review|unboxing|demo|showcase|testimonial|"
    r"ugc(?:\s+(?:video|ad))?|product\s+(?:video|demo|shot))\s+(?:for|of|about|showing|featuring)\s+"
    r"(?P<p>[^,.;:!?\n]+?)(?=\s+(?:that|which|who|where|with|showing|featuring|in\s+which|and\s+then|then|to|for|on|in|at|by|"
    r"using|being)\b|[,.;:!?\n]|$)")
_NAME = r"(?:\"(?P<{0}>[^\"\n]+)\"|'(?P<{1}>[^'\n]+)'|(?P<{2}>[A-Z][\w&'’.-]*(?:\s+[A-Z][\w&'’.-]*){{0,3}}))"
BRAND = re.compile(
    r"(?i:\b(?:brand|company|startup|business|shop|store|cafe|café|bakery|restaurant|app|label|studio|agency|channel|"
    r"podcast)\s+(?:called|named))\s+" + _NAME.format("b1", "b2", "b3")
    + r"|(?i:\b(?:brand(?:ing)?\s+identity|logo\s+(?:reveal|animation|intro|sting)|animated\s+logo|brand\s+(?:video|reveal|ident)"
      r"|ident|branding)\s+(?:for|of)\s+(?:(?:my|our|the)\s+)?(?:(?:brand|company|startup|business)\s+)?)"
    + _NAME.format("b4", "b5", "b6"))

# ---------------------------------------------------------------- framing, sentences, lists, events

FRAMING = _rx(
    r"^\s*(?:(?:hey|hi|ok|okay|please)[,\s]+)*(?:(?:can|could|would)\s+you\s+(?:please\s+)?)?"
    r"(?:(?:make|create|generate|produce|render|build|shoot|film|animate|design|do|give|show)\s+(?:me\s+|us\s+)?|"
    r"i\s*(?:want|need|would\s+like|['’]d\s+like)\s+|we\s+(?:want|need)\s+|let['’]?s\s+(?:make|do|create)\s+)?"
    r"(?:(?:an?|the|one|some|my|our)\s+)?(?P<adj>(?:[\w'’&-]+[\s,]+){0,7}?)"
    r"(?P<noun>short\s+(?:film|video|movie|clip|story)|ugc\s+(?:video|ad|advert)|short(?=\s+(?:about|of|where|featuring)\b)|video|clip|film|movie|"
    r"animation|advert(?:isement)?|ad|commercial|promo|reel|spot|story|montage|vlog|trailer|teaser|sequence|ident|sting|"
    r"logo\s+reveal|logo\s+animation|animated\s+logo|brand(?:ing)?\s+identity|brand\s+video|ugc(?:\s+(?:video|ad|advert))?|tiktok|"
    r"explainer|intro|outro|time-?lapse)s?\b"
    r"\s*(?:[:\-–—,]\s*)?(?:(?:of|about|showing|that\s+shows|which\s+shows|featuring|starring|where|in\s+which|with|for|on)\s+)?")
REQUEST_VERB = _rx(r"^\s*(?:(?:please|can\s+you|could\s+you)\s+)*(?:make|create|generate|produce|render|show|animate)\s+(?:me\s+|us\s+)?")
TRAILING_FILLER = _rx(r"[,\s]*(?:please|thanks|thank\s+you|thx)[.!]*\s*$")
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'“‘])|\n+")
LIST_LINE = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•–])\s+(?P<item>.+)$")
INLINE_NUMBER = re.compile(r"(?:^|(?<=\s)|(?<=[:,;]))(?P<n>\d{1,2})[.)]\s+")
SEQUENCE_SPLIT = _rx(
    r"\s*(?:;|(?:^|,\s*|\s+)(?:and\s+)?then\b,?|(?:^|,\s*)(?:and\s+)?(?:after\s+that|afterwards?|finally|eventually|"
    r"later\s+on|next|in\s+the\s+end|at\s+last)\b,?|\s+and\s+(?:finally|eventually|afterwards?|after\s+that)\b,?|"
    r"\s+before\s+finally\b)\s*")
BEAT_LEAD = _rx(r"^(?:(?:and|then|also|so|plus|next|finally|afterwards|after\s+that|who|which)\b[\s,]*)+")
FILLER_BEAT = _rx(r"(?:etc|and\s+so\s+on|and\s+more|more|stuff|things|&c)\.?")

RELATIVES = frozenset("who that which whose while as when whilst where".split())
AUX = frozenset("is are was were be being been gets has have had will would can could does do did".split())
PREPOSITIONS = frozenset(
    "in at on inside through across along around into onto near by under over beside behind from to during outside of "
    "with among between above below beneath up down towards toward past underneath within aboard".split())
_LOCATIVE = frozenset(
    "in at on inside through across along around into onto near by under over beside behind outside among between "
    "above below beneath underneath within aboard".split())
DETERMINERS = frozenset("a an the my our your his her their its this that these those some two three four five "
                        "several many few one".split())
PRONOUNS = frozenset("she he they it we i you".split())

BASE_VERBS = frozenset("""
walk run go meet eat drink dance sing jump fly swim ride drive sit sleep look watch find get make take chase explore
wander climb cook read write open discover visit travel sail race fight build paint talk laugh cry hug kiss wait stand
fall rise turn leave arrive return enter sniff greet share celebrate play bark wag fetch roll spin smile wave stroll
hike skate surf ski dive catch throw kick hit grab hold carry lift push pull pour sip taste bite chew lick smell
hear listen sing whisper shout scream call text type click scroll shop buy sell pay order try test unbox apply spray
wash clean brush comb dress wear put pick drop place set show reveal hide search follow lead escape crash break fix
repair plant grow bloom water feed pet cuddle nap rest wake yawn stretch relax work study learn teach draw film shoot
record edit post share land launch fade glow shine sparkle burst explode melt freeze float drift glide soar zoom
hurry rush dash sprint jog march cross pass approach notice spot realise realize decide begin start finish end stop
continue keep bring send receive give gets opens closes close discover head step peek stare gaze point nod shake
""".split())
IRREGULAR = frozenset("""
went ran ate drank met found took got came saw made flew swam rode drove sat slept fell rose left stood sang danced
began gave brought caught threw held kept led ran sent spent thought told wore won wrote broke chose drew grew knew
spoke stole swung woke hid bit hung lay lit shook shot slid spun stuck struck tore
""".split())
ING_NOUNS = frozenset("""
thing things king ring wing spring string morning evening ceiling building painting clothing wedding pudding sibling
darling something nothing anything everything sling bling duckling dumpling viking ping earring offspring herring
lightning icing frosting awning railing siding stuffing dressing filling topping housing lodging ending beginning
opening sibling ceiling swing during boring amazing stunning interesting charming
""".split())
_OBJECT_AFTER = frozenset("it them her him us me up out the a an my his their our your this that".split())
_PARTICLES = frozenset("a an the to into around through up down off out away across along over past back home his her "
                       "its their in on at with by onto toward towards".split())


def _verb_form(word: str) -> str:
    """'ing', 's', 'ed', 'base' for a known verb form, '' otherwise."""
    w = word.lower().strip("'’")
    if len(w) > 4 and w.endswith("ing") and w not in ING_NOUNS:
        return "ing"
    if w in IRREGULAR:
        return "ed"
    if w in BASE_VERBS:
        return "base"
    for suffix, form in (("ies", "s"), ("es", "s"), ("s", "s"), ("ied", "ed"), ("ed", "ed"), ("d", "ed")):
        if w.endswith(suffix):
            stem = w[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            if stem in BASE_VERBS or (stem + "e") in BASE_VERBS or (len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in BASE_VERBS):
                return form
    return ""


def is_verbish(word: str, next_word: str = "", *, plural_subject: bool = True, leading: bool = False) -> bool:
    """Does this word start a predicate? 'going', 'sniffs', 'met'; base forms only after a plural subject.

    `leading`: the word opens the text, with no subject before it, where '-s' words are mostly plural nouns."""
    w = word.lower().strip("'’")
    form = _verb_form(w)
    if w in ING_NOUNS and next_word.lower() in _OBJECT_AFTER:
        return True  # 'filling it', 'dressing the dog': the noun-like -ing word is a verb with an object
    if leading:
        return form in ("ing", "ed") or (w.endswith("ly") and bool(next_word) and _verb_form(next_word) in ("ing", "ed"))
    if form in ("ing", "s", "ed"):
        return True
    if form == "base":
        return plural_subject
    if w.endswith("ly") and next_word:
        return is_verbish(next_word, "", plural_subject=plural_subject)
    # an unknown verb in the third person: "zooms around", "tiptoes into"
    return (len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "'s", "’s"))
            and next_word.lower() in _PARTICLES)


def starts_verbish(fragment: str) -> bool:
    """Is this fragment an event ('sniffing around', 'she reads it') rather than a description?"""
    words = fragment.split()[:5]
    if not words:
        return False
    nxt = words[1] if len(words) > 1 else ""
    if is_verbish(words[0], nxt):
        return True
    lead = words[0].lower()
    if lead in PRONOUNS or lead in DETERMINERS or words[0][:1].isupper():
        for i in range(1, len(words)):
            if _verb_form(words[i]) in ("ing", "s", "ed") or words[i].lower() in AUX:
                return True
    return False


def same_verb_form(a: str, b: str) -> bool:
    fa, fb = _verb_form(a), _verb_form(b)
    return bool(fa) and fa == fb


PLACE_NOUNS = frozenset("""
park parks beach beaches city cities street streets road roads forest forests woods kitchen office offices cafe café
coffee shop shops store stores mountain mountains lake lakes river rivers ocean oceans sea seas desert garden gardens
backyard yard house houses home apartment flat room bedroom bathroom studio school classroom library market markets
village town field fields meadow farm island space spaceship station harbor harbour port bridge rooftop roof alley
subway train car road highway neighborhood neighbourhood suburb suburbs countryside jungle cave castle lab laboratory
hospital restaurant bar club gym stadium arena stage church temple museum gallery airport plane boat ship lighthouse
cliff cliffs valley canyon sky moon mars planet plaza square downtown skyline coast shore seaside trail path sidewalk
pavement hallway corridor attic basement garage porch balcony terrace pool playground campus warehouse factory
bakery diner pub hotel lobby elevator tunnel dock pier marina waterfall glacier volcano reef underwater
""".split())


def is_place(phrase: str) -> bool:
    """'in a park', 'at the beach', 'in Paris': a locative preposition and a place noun or a proper noun."""
    words = re.findall(r"[\w'’-]+", phrase)
    if not words or words[0].lower() not in _LOCATIVE:
        return False
    rest = words[1:]
    return any(w.lower() in PLACE_NOUNS for w in rest) or any(w[:1].isupper() for w in rest)


# A place a beat implies when the person named none: (pattern, setting phrase). First match wins.
SETTING_HINTS = _words([
    ("in a windswept lighthouse on a rocky coast", r"lighthouse\w*"),
    ("in a cosy family home", r"house|home|apartment|living\s+room|sofa|couch"),
    ("on a small boat on the open sea", r"sail\w*|boat|ship|at\s+sea"),
    ("in a cosy coffee shop", r"pup\s+cups?|puppuccino|coffee|latte|espresso|cafe|café|barista"),
    ("on a sunny beach", r"beach|surf\w*|waves|seaside|sandcastle"),
    ("in a green city park", r"park|fetch|frisbee|picnic|playground"),
    ("on a forest trail", r"hike|hiking|forest|woods|trail"),
    ("in a warm home kitchen", r"cook\w*|bak\w*|kitchen|breakfast|dinner|recipe"),
    ("in a cosy bedroom", r"sleep\w*|nap\w*|bed|wakes?\s+up|waking\s+up"),
    ("on a leafy neighbourhood street", r"walk\w*|stroll\w*|sidewalk|neighbou?rhood|street"),
    ("in a bright modern office", r"office|desk|laptop|meeting\s+room|coworkers?"),
    ("in a busy gym", r"gym|workout|lifting|treadmill"),
    ("on an open country road", r"drive|driving|road\s+trip|car"),
    ("in a bustling market", r"market|shopping|groceries"),
    ("in outer space", r"space|astronaut|rocket|orbit"),
    ("in a snowy mountain landscape", r"snow\w*|ski\w*|mountain\w*"),
    ("in a busy city street", r"city|downtown|traffic|subway"),
])

_LOOK_FILLER = _rx(r"\b(?:and|or|with|in|at|the|a|an|style|look|looks|tones?|lighting|light|lit|vibes?|aesthetic|mood|feel|"
                   r"colou?rs?|palette|accents?|brand|shot|shots|footage|film|during|by)\b|[,\s-]+")


def is_look_only(fragment: str) -> bool:
    """Is this fragment only about the look ('golden hour', 'navy and gold', 'in anime style'), not an event?"""
    rest = fragment
    for rx, _ in (*LIGHTING_WORDS, *STYLE_WORDS):
        rest = rx.sub(" ", rest)
    rest = COLOUR.sub(" ", rest)
    return not _LOOK_FILLER.sub("", rest).strip()
