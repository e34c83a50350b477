"""Readable share ids: ``adjective-adjective-animal-NNNN``, e.g. ``brave-sunny-otter-4821``.

Short, easy to read aloud and to type on a phone, drawn at random with :mod:`secrets`
(unlike JE's predictable sequence, they cannot be enumerated), and never UUID-shaped.
:data:`ID_SPACE` is about 2·10¹⁰: with the per-client limit on misses
(``rate_miss_per_minute``, see :mod:`kiosk.sharing.guessing`) and 1,000 shares on the
kiosk, one client's expected time to a first hit is years (:func:`expected_years_to_hit`).
Ids made before the four-digit number (``...-482``) keep resolving. Uniqueness is the
store's job (it retries on a collision). Lookups go through :func:`normalize`.
"""

from __future__ import annotations

import re
import secrets
import uuid

# Plain, friendly words a 12-year-old can spell; no homophones of each other.
ADJECTIVES: tuple[str, ...] = (
    "able", "agile", "amber", "arctic", "azure", "balmy", "bold", "brave",
    "breezy", "bright", "brisk", "bubbly", "busy", "calm", "candid", "caring", "cheery", "chilly",
    "clever", "cloudy", "cosy", "crisp", "curious", "daring", "dapper", "deep", "eager", "early",
    "easy", "electric", "epic", "fair", "fancy", "fast", "fearless", "fluffy", "focused", "fresh",
    "friendly", "frosty", "funny", "fuzzy", "gentle", "giant", "glad", "gleaming", "glossy",
    "golden", "good", "graceful", "grand", "great", "green", "happy", "hardy", "helpful",
    "hidden", "honest", "hopeful", "humble", "icy", "jolly", "joyful", "keen", "kind", "large",
    "lively", "loyal", "lucky", "lunar", "magic", "mellow", "merry", "mighty", "misty", "modern",
    "neat", "nimble", "noble", "orange", "polite", "patient", "peaceful", "perky", "playful",
    "plucky", "polar", "proud", "purple", "quick", "quiet", "rapid", "rare", "ready", "red",
    "regal", "rosy", "royal", "rustic", "salty", "sandy", "shiny", "silent", "silver", "simple",
    "sleek", "smart", "smooth", "snowy", "soft", "solar", "speedy", "spotted", "steady", "stormy",
    "striped", "strong", "sturdy", "sunny", "super", "swift", "tidal", "tiny", "tough", "trusty",
    "upbeat", "valiant", "vivid", "warm", "wavy", "wild", "windy", "wise", "witty", "young",
    "zany", "zesty", "brainy", "cosmic", "dreamy", "gallant", "jazzy", "radiant", "sparkly",
    "starry", "sweet", "teal", "violet",
)

AQUATIC_ANIMALS: tuple[str, ...] = (
    "albatross", "alligator", "anchovy", "angelfish", "axolotl",
    "barnacle", "barracuda", "bass", "beaver", "beluga", "blenny", "capybara", "carp", "catfish",
    "caiman", "clam", "clownfish", "cod", "conch", "coral", "cormorant", "crab", "crayfish",
    "cuttlefish", "dolphin", "duck", "dugong", "eel", "egret", "flamingo", "flounder", "frog",
    "goby", "goldfish", "goose", "grouper", "guppy", "haddock", "halibut", "heron", "herring",
    "jellyfish", "kingfisher", "koi", "krill", "limpet", "lionfish", "lobster", "loon",
    "mackerel", "manatee", "manta", "marlin", "minnow", "mink", "mussel", "narwhal", "nautilus",
    "newt", "octopus", "orca", "otter", "oyster", "pelican", "penguin", "perch", "pike",
    "piranha", "platypus", "plankton", "puffin", "pufferfish", "salamander", "salmon", "sardine",
    "sawfish", "scallop", "seahorse", "seal", "shark", "shrimp", "snapper", "sponge", "squid",
    "starfish", "stingray", "sturgeon", "sunfish", "swan", "swordfish", "tadpole", "tarpon",
    "tern", "terrapin", "tetra", "toad", "trout", "tuna", "turtle", "urchin", "walrus", "whale",
    "whelk", "wrasse",
)

NUMBER_MIN = 1000
NUMBER_MAX = 9999

#: How many different readable ids :func:`new_readable_id` can produce.
ID_SPACE = (len(ADJECTIVES) * (len(ADJECTIVES) - 1) * len(AQUATIC_ANIMALS)
            * (NUMBER_MAX - NUMBER_MIN + 1))

# Three digits: ids made before the number grew to four; they keep resolving.
_READABLE_RE = re.compile(r"[a-z]+-[a-z]+-[a-z]+-[0-9]{3,4}")


def expected_years_to_hit(shares: int, misses_per_minute: float) -> float:
    """Expected time, in years, for one client guessing at the allowed rate to hit a share.

    Each guess hits with probability ``shares / ID_SPACE``; the expected number of
    guesses to the first hit is its inverse.
    """
    guesses = ID_SPACE / max(1, shares)
    return guesses / (misses_per_minute * 60 * 24 * 365.25)


def new_readable_id() -> str:
    """A fresh random readable id (two different adjectives, an animal, a number)."""
    first = secrets.choice(ADJECTIVES)
    second = secrets.choice(ADJECTIVES)
    while second == first:
        second = secrets.choice(ADJECTIVES)
    animal = secrets.choice(AQUATIC_ANIMALS)
    number = NUMBER_MIN + secrets.randbelow(NUMBER_MAX - NUMBER_MIN + 1)
    return f"{first}-{second}-{animal}-{number}"


def normalize(raw: str) -> str:
    """The stored form of a typed id: trimmed, lower case, without a trailing ``.ipynb``."""
    text = raw.strip()
    if text.lower().endswith(".ipynb"):
        text = text[: -len(".ipynb")].rstrip()
    return text.lower()


def looks_like_readable_id(text: str) -> bool:
    """True if ``text`` (normalized) has the shape of one of our readable ids."""
    return _READABLE_RE.fullmatch(text) is not None


def parse_uuid(text: str) -> str | None:
    """The canonical form of ``text`` if it is a UUID, else None."""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None
