"""The sound classes of the corpus and the text used to query them.

Training pairs each target with its label or one of its ``captions``; ``heldout_captions`` are
never seen in training and measure how well the model generalises to new wordings.

``CLASSES`` are the 13 classes of the synthetic corpus (speech engines, General MIDI, procedural
alerts); a pool rendered from it indexes its clips by position in ``CLASSES``. ``REAL_CLASSES``
are the classes the real-recordings corpus adds (``real.py`` maps package files to them), and
``ALL_CLASSES = CLASSES + REAL_CLASSES`` is that corpus's vocabulary: a real-corpus pool indexes
by position in ``ALL_CLASSES``, so the first 13 positions mean the same in both.

``conflicting(a, b)``: two classes that must not meet in one mixture, because one contains the
other ("music" holds instruments, "drums" holds snares) or their recordings often hold each
other (rain and thunder). Interferers never conflict with the target, and a query answered with
silence is never one that conflicts with something that sounds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SoundClass:
    label: str
    captions: tuple[str, ...]
    heldout_captions: tuple[str, ...]

    @property
    def slug(self) -> str:
        """File-system friendly name, used as the class directory in a pool."""
        return self.label.replace(" ", "_")


CLASSES: tuple[SoundClass, ...] = (
    SoundClass(
        "speech",
        captions=(
            "a woman reading aloud",
            "a man talking",
            "someone speaking in a calm voice",
            "a person giving a short speech",
            "people talking",
            "a narrator reading a story",
            "a male voice speaking english",
            "a female voice announcing something",
        ),
        heldout_captions=(
            "a voice saying a few sentences",
            "human speech",
            "a speaker explaining something",
            "somebody chatting",
        ),
    ),
    SoundClass(
        "piano",
        captions=(
            "someone playing the piano",
            "a piano melody",
            "piano chords",
            "a pianist practising scales",
            "soft piano music",
            "a grand piano being played",
            "keys of a piano",
            "an upright piano tune",
        ),
        heldout_captions=(
            "a solo piano piece",
            "a person playing keyboard music on a piano",
            "piano notes",
            "classical piano playing",
        ),
    ),
    SoundClass(
        "acoustic guitar",
        captions=(
            "someone plucking a guitar",
            "strumming an acoustic guitar",
            "a guitar melody",
            "fingerpicked guitar",
            "acoustic guitar chords",
            "a folk guitar tune",
            "nylon string guitar playing",
            "a steel string guitar being strummed",
        ),
        heldout_captions=(
            "a person playing guitar",
            "guitar strings",
            "an unplugged guitar",
            "classical guitar music",
        ),
    ),
    SoundClass(
        "violin",
        captions=(
            "a violin playing a melody",
            "someone bowing a violin",
            "a solo violin",
            "a fiddle tune",
            "violin music",
            "a violinist playing slowly",
            "the sound of a violin",
            "a bowed string instrument",
        ),
        heldout_captions=(
            "a fiddle being played",
            "violin notes",
            "a classical violin piece",
            "a person playing the violin",
        ),
    ),
    SoundClass(
        "flute",
        captions=(
            "a flute melody",
            "someone playing the flute",
            "a breathy flute",
            "a solo flute",
            "flute music",
            "a flautist playing a tune",
            "a woodwind melody on flute",
            "the sound of a flute",
        ),
        heldout_captions=(
            "a flute being played",
            "flute notes",
            "a gentle flute tune",
            "a person blowing a flute",
        ),
    ),
    SoundClass(
        "trumpet",
        captions=(
            "a trumpet playing",
            "someone blowing a trumpet",
            "a brass melody on trumpet",
            "a trumpet solo",
            "trumpet music",
            "a bright trumpet fanfare",
            "a jazz trumpet",
            "the sound of a trumpet",
        ),
        heldout_captions=(
            "a trumpet being played",
            "trumpet notes",
            "a brass instrument",
            "a person playing the trumpet",
        ),
    ),
    SoundClass(
        "drums",
        captions=(
            "a drum beat",
            "someone playing the drums",
            "a drum kit",
            "drums and cymbals",
            "a rock drum groove",
            "a drummer playing a rhythm",
            "kick drum and snare",
            "percussion with hi-hats",
        ),
        heldout_captions=(
            "drums being played",
            "a drum solo",
            "a beat on a drum set",
            "drumming",
        ),
    ),
    SoundClass(
        "bass guitar",
        captions=(
            "a bass guitar",
            "someone playing a bass line",
            "an electric bass",
            "a funky bass line",
            "bass guitar notes",
            "a low bass groove",
            "a bassist playing",
            "a fretless bass",
        ),
        heldout_captions=(
            "a bass guitar being played",
            "a bass line",
            "deep bass notes",
            "a person playing the bass",
        ),
    ),
    SoundClass(
        "church organ",
        captions=(
            "a church organ",
            "someone playing a pipe organ",
            "organ chords in a church",
            "a hymn on the organ",
            "organ music",
            "a cathedral organ",
            "sustained organ notes",
            "an organist playing",
        ),
        heldout_captions=(
            "a pipe organ being played",
            "organ notes",
            "a church organ piece",
            "a person playing the organ",
        ),
    ),
    SoundClass(
        "telephone ringing",
        captions=(
            "a telephone ringing",
            "a phone is ringing",
            "an old telephone bell",
            "a landline phone ringing",
            "the ring tone of a phone",
            "an office phone ringing",
            "a ringing telephone",
            "a phone rings several times",
        ),
        heldout_captions=(
            "a telephone rings",
            "a phone ringing in a room",
            "an incoming call",
            "a telephone ring",
        ),
    ),
    SoundClass(
        "alarm beeping",
        captions=(
            "an alarm beeping",
            "an alarm clock going off",
            "a smoke detector beeping",
            "electronic beeps",
            "a beeping alarm",
            "a timer beeping",
            "a warning beep",
            "repeated beeping",
        ),
        heldout_captions=(
            "an alarm",
            "beeping",
            "a beeper",
            "a watch alarm",
        ),
    ),
    SoundClass(
        "siren",
        captions=(
            "an ambulance siren wailing",
            "a police siren",
            "a fire truck siren",
            "an emergency vehicle siren",
            "a siren wailing",
            "a yelping siren",
            "a warning siren",
            "sirens",
        ),
        heldout_captions=(
            "a siren",
            "a police car siren",
            "an air raid siren",
            "the wail of a siren",
        ),
    ),
    SoundClass(
        "bell ringing",
        captions=(
            "a church bell ringing",
            "bells ringing",
            "a bell tolling",
            "someone ringing a hand bell",
            "church bells",
            "a large bell",
            "a bell chime",
            "a ringing bell",
        ),
        heldout_captions=(
            "a bell",
            "a bell being struck",
            "tolling bells",
            "bells",
        ),
    ),
)


REAL_CLASSES: tuple[SoundClass, ...] = (
    # --- pieces of a drum kit and percussion ---
    SoundClass(
        "snare drum",
        captions=("a snare drum hit", "someone hitting a snare drum", "a crisp snare", "a rimshot on a snare",
                  "snare drum strokes", "the crack of a snare drum", "a drummer striking the snare",
                  "a tight snare sound"),
        heldout_captions=("a snare", "a snare drum being played", "a sharp drum hit", "snare hits"),
    ),
    SoundClass(
        "kick drum",
        captions=("a kick drum", "a bass drum thump", "someone stomping the kick pedal", "a deep drum kick",
                  "a low drum beat from a bass drum", "the boom of a kick drum", "kick drum hits",
                  "a punchy kick"),
        heldout_captions=("a bass drum", "a kick", "a thumping kick drum", "low drum thuds"),
    ),
    SoundClass(
        "hi-hat",
        captions=("a hi-hat", "closed hi-hat ticks", "an open hi-hat", "someone playing the hi-hat cymbals",
                  "a hi-hat pedal chick", "hi-hat hits", "a sizzling open hat", "the hi-hat of a drum kit"),
        heldout_captions=("a hihat", "a hi-hat being played", "hi-hat cymbal", "tapping on a hi-hat"),
    ),
    SoundClass(
        "cymbal",
        captions=("a cymbal crash", "a crash cymbal", "a ride cymbal", "a splash cymbal", "a cymbal ringing out",
                  "someone striking a cymbal", "a china cymbal", "a shimmering cymbal"),
        heldout_captions=("cymbals", "a cymbal being hit", "a crashing cymbal", "a cymbal"),
    ),
    SoundClass(
        "tom drum",
        captions=("a tom drum", "a floor tom", "tom toms", "someone hitting a tom", "a high tom", "a low tom drum",
                  "tom fills", "a rack tom"),
        heldout_captions=("a tom", "toms being played", "a tom-tom drum", "drum toms"),
    ),
    SoundClass(
        "hand percussion",
        captions=("bongos", "a cowbell", "a tambourine", "maracas shaking", "a cajon", "a djembe",
                  "tabla drums", "a woodblock"),
        heldout_captions=("hand drums", "percussion instruments", "a shaker", "congas"),
    ),
    SoundClass(
        "hand clapping",
        captions=("hands clapping", "someone clapping", "applause", "a hand clap", "people applauding",
                  "a round of applause", "clapping hands", "an audience clapping"),
        heldout_captions=("clapping", "claps", "applauding", "a clap"),
    ),
    # --- instruments and music ---
    SoundClass(
        "electric guitar",
        captions=("an electric guitar", "a distorted guitar", "a guitar solo", "a rock guitar riff",
                  "an overdriven electric guitar", "a lead guitar", "a metal guitar riff", "an amplified guitar"),
        heldout_captions=("electric guitar playing", "a heavy guitar", "a shredding guitar", "a guitarist soloing"),
    ),
    SoundClass(
        "horn blowing",
        captions=("a horn blowing", "a war horn", "a hunting horn", "a horn signal", "a long horn call",
                  "someone blowing a horn", "a brass horn call", "a horn sounding in the distance"),
        heldout_captions=("a horn", "a horn being blown", "a battle horn", "a horn blast"),
    ),
    SoundClass(
        "singing",
        captions=("someone singing", "a singer", "a choir singing", "a voice singing a melody",
                  "a woman singing", "a man singing", "vocal harmonies", "a sung phrase"),
        heldout_captions=("a vocalist singing", "a person singing a song", "a choir", "vocals"),
    ),
    SoundClass(
        "music",
        captions=("some music", "background music", "a song playing", "instrumental music", "a music track",
                  "music playing in the background", "a band playing", "a soundtrack"),
        heldout_captions=("a piece of music", "music on a radio", "hold music", "a tune playing"),
    ),
    # --- human sounds ---
    SoundClass(
        "laughter",
        captions=("someone laughing", "bursts of laughter", "a man laughing", "a woman laughing", "an evil laugh",
                  "people laughing", "a giggle", "a hearty laugh"),
        heldout_captions=("laughing", "a laugh", "a person laughs", "chuckling"),
    ),
    SoundClass(
        "screaming",
        captions=("someone screaming", "a scream", "a woman screaming", "a man screaming", "a shriek",
                  "a terrified scream", "people screaming", "a loud yell"),
        heldout_captions=("a scream of fear", "a person screams", "a shrill scream", "yelling"),
    ),
    SoundClass(
        "groaning in pain",
        captions=("a man groaning in pain", "someone getting hurt", "a pained grunt", "a cry of pain",
                  "a dying groan", "someone grunting after a hit", "a woman crying out in pain", "an agonized moan"),
        heldout_captions=("groaning", "a grunt", "a person in pain", "a moan"),
    ),
    SoundClass(
        "coughing",
        captions=("someone coughing", "a cough", "a man coughing", "a woman coughing", "someone sneezing",
                  "a sneeze", "a fit of coughing", "clearing the throat with a cough"),
        heldout_captions=("a bad cough", "a person coughs", "sneezing", "coughs"),
    ),
    SoundClass(
        "crowd cheering",
        captions=("a crowd cheering", "a stadium crowd", "fans cheering", "a cheering audience",
                  "a crowd booing", "a roaring crowd", "sports fans chanting", "a noisy crowd"),
        heldout_captions=("a crowd", "cheering", "spectators cheering", "a crowd at a game"),
    ),
    SoundClass(
        "footsteps",
        captions=("footsteps in a hallway", "someone walking", "steps on gravel", "footsteps on a wooden floor",
                  "walking on snow", "boots on concrete", "a person walking on grass", "footsteps on metal"),
        heldout_captions=("walking", "steps", "a person walking", "footstep sounds"),
    ),
    # --- animals ---
    SoundClass(
        "dog barking",
        captions=("a dog barking", "a dog growling", "barking", "a barking dog", "a dog barks twice",
                  "an angry dog", "a small dog yapping", "dogs barking"),
        heldout_captions=("a dog", "a dog bark", "a woof", "a barking puppy"),
    ),
    SoundClass(
        "cow mooing",
        captions=("a cow mooing", "cattle lowing", "a bull bellowing", "a moo", "cows on a farm",
                  "a cow moos", "a calf calling", "a mooing cow"),
        heldout_captions=("a cow", "mooing", "cattle", "a cow lowing"),
    ),
    SoundClass(
        "sheep bleating",
        captions=("a sheep bleating", "a goat bleating", "sheep baaing", "a lamb calling", "a flock of sheep",
                  "a bleating goat", "baa", "sheep on a farm"),
        heldout_captions=("a sheep", "bleating", "a goat", "a baaing sheep"),
    ),
    SoundClass(
        "pig oinking",
        captions=("a pig oinking", "pigs grunting", "a pig squealing", "a grunting pig", "an oink",
                  "hogs on a farm", "a squealing piglet", "a pig snorting"),
        heldout_captions=("a pig", "oinking", "a pig grunts", "pigs"),
    ),
    SoundClass(
        "horse",
        captions=("a horse neighing", "horse hooves", "a galloping horse", "a horse whinnying", "a donkey braying",
                  "hoofbeats", "a horse trotting", "a horse snorting"),
        heldout_captions=("a horse", "neighing", "galloping", "horses"),
    ),
    SoundClass(
        "chicken clucking",
        captions=("a chicken clucking", "a rooster crowing", "hens clucking", "a cock-a-doodle-doo",
                  "chickens in a coop", "a turkey gobbling", "a clucking hen", "chicks peeping"),
        heldout_captions=("a chicken", "a rooster", "clucking", "poultry"),
    ),
    SoundClass(
        "duck quacking",
        captions=("a duck quacking", "ducks quacking", "a goose honking", "geese honking", "a quacking duck",
                  "a duck calls", "geese on a pond", "a loud quack"),
        heldout_captions=("a duck", "quacking", "a goose", "a quack"),
    ),
    SoundClass(
        "bird song",
        captions=("birds chirping", "a bird singing", "birdsong", "birds tweeting", "an owl hooting",
                  "a crow cawing", "seagulls crying", "a bird call"),
        heldout_captions=("birds", "a bird", "chirping", "birds singing in the trees"),
    ),
    SoundClass(
        "wild animal",
        captions=("a lion roaring", "an elephant trumpeting", "a monkey screeching", "a bear growling",
                  "a tiger roar", "a wild animal", "a gorilla", "a whale call"),
        heldout_captions=("a roar", "an animal roaring", "a wild beast", "a zoo animal"),
    ),
    SoundClass(
        "wolf howling",
        captions=("a wolf howling", "a wolf growling", "wolves howling", "a howl", "a snarling wolf",
                  "a coyote howling", "a wolf snarl", "a lone wolf howl"),
        heldout_captions=("a wolf", "howling", "a growling wolf", "wolves"),
    ),
    SoundClass(
        "frog croaking",
        captions=("a frog croaking", "frogs croaking", "a toad", "croaking frogs in a pond", "a ribbit",
                  "a bullfrog", "frogs at night", "a croak"),
        heldout_captions=("a frog", "croaking", "frogs", "a croaking toad"),
    ),
    SoundClass(
        "insects buzzing",
        captions=("a bee buzzing", "insects humming", "crickets chirping", "cicadas", "a buzzing fly",
                  "a mosquito whining", "bees swarming", "a grasshopper chirping"),
        heldout_captions=("buzzing", "insects", "a bee", "crickets"),
    ),
    SoundClass(
        "small animal squeaking",
        captions=("a mouse squeaking", "a rabbit squeaking", "a squirrel chattering", "a rat squeaking",
                  "a small animal squeak", "a hamster", "rodents squeaking", "a chittering rabbit"),
        heldout_captions=("squeaking", "a mouse", "a squeak", "a small rodent"),
    ),
    # --- weather, water and fire ---
    SoundClass(
        "wind",
        captions=("wind blowing", "a strong wind", "wind howling", "a gust of wind", "wind in a cave",
                  "a windy day", "wind whistling", "a storm wind"),
        heldout_captions=("windy weather", "the wind", "blowing wind", "a breeze"),
    ),
    SoundClass(
        "rain",
        captions=("rain falling", "heavy rain", "a rainstorm", "rain on a roof", "steady rain", "light rain",
                  "raindrops", "a downpour"),
        heldout_captions=("rainfall", "raining", "a rain shower", "the sound of rain"),
    ),
    SoundClass(
        "thunder",
        captions=("a booming thunder", "a thunderclap", "rolling thunder", "a thunderstorm", "thunder rumbling",
                  "a lightning strike", "distant thunder", "a loud crack of thunder"),
        heldout_captions=("thunder rolling", "a thunder crash", "thunderclaps", "a storm with thunder"),
    ),
    SoundClass(
        "flowing water",
        captions=("a stream flowing", "a river", "a waterfall", "running water", "a babbling brook",
                  "ocean waves", "water flowing", "a creek"),
        heldout_captions=("water streaming over rocks", "water running", "a rushing river", "waves"),
    ),
    SoundClass(
        "water splashing",
        captions=("water splashes", "a splash", "water dripping", "bubbles", "something falling into water",
                  "a drip", "water drops", "bubbling water"),
        heldout_captions=("splashing", "a splash of water", "dripping", "a plop in water"),
    ),
    SoundClass(
        "fire crackling",
        captions=("a fire crackling", "a campfire", "flames burning", "a crackling fireplace", "a burning fire",
                  "fire roaring", "crackling flames", "a bonfire"),
        heldout_captions=("fire", "burning", "a crackling fire", "flames"),
    ),
    # --- household, tools and machines ---
    SoundClass(
        "keyboard typing",
        captions=("typing on a keyboard", "a keyboard clacking", "someone typing", "a typewriter",
                  "keys being pressed", "a mechanical keyboard", "fast typing", "keystrokes"),
        heldout_captions=("typing", "a computer keyboard", "keyboard clicks", "someone typing an email"),
    ),
    SoundClass(
        "door",
        captions=("a door closing", "a door opening", "a door slamming", "a creaking door", "a door creak",
                  "a gate opening", "a heavy door shutting", "a chest lid opening"),
        heldout_captions=("a door", "a door shuts", "a squeaky door", "a door being opened"),
    ),
    SoundClass(
        "glass breaking",
        captions=("glass shattering on the floor", "a window shattering", "glasses clinking", "a bottle breaking",
                  "shattering glass", "a glass smashing", "broken glass", "a glass bottle"),
        heldout_captions=("glass", "breaking glass", "a glass shatters", "clinking glass"),
    ),
    SoundClass(
        "hammering",
        captions=("loud hammering", "a hammer on metal", "a blacksmith at an anvil", "metal clanking",
                  "someone hammering a nail", "an anvil ringing", "a metal clang", "banging on metal"),
        heldout_captions=("a hammer", "hammer blows", "a smith hammering", "clanking metal"),
    ),
    SoundClass(
        "power tool",
        captions=("a power tool", "a saw cutting wood", "a drill", "a jackhammer", "a vacuum cleaner",
                  "a sewing machine", "a chainsaw", "a washing machine"),
        heldout_captions=("a saw", "drilling", "an electric tool", "sawing"),
    ),
    SoundClass(
        "machinery",
        captions=("machinery running", "a factory", "industrial machines", "a machine humming", "a mill grinding",
                  "a pump running", "a mine with machinery", "heavy machinery"),
        heldout_captions=("machines", "a machine", "factory noise", "an engine room"),
    ),
    SoundClass(
        "digging",
        captions=("someone digging with a spade", "someone digging in gravel", "a shovel in dirt", "scraping earth",
                  "digging in the ground", "gravel crunching", "breaking up soil", "picking at rock"),
        heldout_captions=("a shovel", "dirt being dug", "digging a hole", "crunching gravel"),
    ),
    SoundClass(
        "paper rustling",
        captions=("rustling sheets of paper", "pages turning", "paper tearing", "a card being flipped",
                  "a book closing",
                  "crumpling paper", "turning a page", "a newspaper rustling"),
        heldout_captions=("paper", "a page", "rustling paper", "tearing paper"),
    ),
    # --- vehicles ---
    SoundClass(
        "car engine",
        captions=("a car engine", "a car driving past", "an engine revving", "a motorcycle passing", "a truck",
                  "traffic", "a racing car", "an idling engine"),
        heldout_captions=("a car", "an engine", "a vehicle driving", "a motor running"),
    ),
    SoundClass(
        "car horn",
        captions=("a car horn", "a car honking", "honking", "a truck horn", "a horn beeping in traffic",
                  "a klaxon", "drivers honking", "a loud car horn"),
        heldout_captions=("a honk", "a horn honking", "car horns", "a beeping horn"),
    ),
    SoundClass(
        "tyre skid",
        captions=("tyres screeching", "a car skidding", "brakes squealing", "a tire skid", "screeching tires",
                  "a skid on the road", "wheels skidding", "a car braking hard"),
        heldout_captions=("a skid", "screeching", "squealing tyres", "skidding"),
    ),
    SoundClass(
        "train",
        captions=("a train passing", "a steam locomotive", "a train on the tracks", "a railway",
                  "a train whistle and engine", "a freight train", "train wheels clacking", "a railroad crossing"),
        heldout_captions=("a train", "a locomotive", "trains", "a passing train"),
    ),
    SoundClass(
        "airplane",
        captions=("an airplane flying over", "a jet engine", "a plane taking off", "a propeller plane",
                  "a jet flyby", "an aircraft", "a jet plane", "a small plane"),
        heldout_captions=("a plane", "an airplane", "a jet", "aircraft noise"),
    ),
    SoundClass(
        "helicopter",
        captions=("a helicopter", "helicopter rotor blades", "a helicopter flying", "a chopper",
                  "a helicopter starting up", "a hovering helicopter", "rotors thumping", "a helicopter overhead"),
        heldout_captions=("a helicopter passing", "a chopper flying", "helicopter blades", "a rotorcraft"),
    ),
    # --- combat, impacts and movement ---
    SoundClass(
        "explosion",
        captions=("an explosion", "a bomb exploding", "a blast", "a loud boom", "fireworks", "a grenade exploding",
                  "a distant explosion", "an explosive blast"),
        heldout_captions=("explosions", "something exploding", "a boom", "a detonation"),
    ),
    SoundClass(
        "gunshot",
        captions=("a gunshot", "gunfire", "a machine gun", "a pistol shot", "a shotgun blast", "rifle fire",
                  "automatic gunfire", "shots fired"),
        heldout_captions=("a gun", "gunshots", "shooting", "a firearm"),
    ),
    SoundClass(
        "cannon fire",
        captions=("a cannon firing", "artillery", "cannon shots", "a mortar", "artillery fire", "a tank cannon",
                  "a big gun firing", "cannons booming"),
        heldout_captions=("a cannon", "cannons firing", "an artillery shell", "a cannon shot"),
    ),
    SoundClass(
        "sword fight",
        captions=("a sword fight", "swords clashing", "a blade slicing", "a knife stab", "a sword swing hitting",
                  "metal blades clanging", "an axe strike", "combat with swords"),
        heldout_captions=("swords", "a sword", "sword clash", "fighting with blades"),
    ),
    SoundClass(
        "bow and arrow",
        captions=("an arrow being shot", "a bow twanging", "a crossbow firing", "an arrow hitting a target",
                  "arrows flying", "an archer shooting", "a bowstring", "an arrow whizzing by"),
        heldout_captions=("a bow", "an arrow", "archery", "a crossbow"),
    ),
    SoundClass(
        "whoosh",
        captions=("a whoosh", "a swoosh", "something swinging through the air", "a whip crack", "a swish",
                  "a fast swing", "air swooshing", "a stick swung through the air"),
        heldout_captions=("whooshing", "a swing", "swishing", "a whooshing sound"),
    ),
    SoundClass(
        "punch",
        captions=("a punch", "a thud", "a body hitting the ground", "a slap", "someone being punched",
                  "a heavy impact", "a fist hitting", "a dull thump"),
        heldout_captions=("a hit", "punching", "an impact", "a thump"),
    ),
    SoundClass(
        "crash",
        captions=("a crash", "a car crash", "debris falling", "things breaking", "a collision", "rocks falling",
                  "a wooden crate breaking", "a loud crash"),
        heldout_captions=("crashing", "something crashing", "a smash", "falling debris"),
    ),
)

ALL_CLASSES: tuple[SoundClass, ...] = CLASSES + REAL_CLASSES

_DRUM_PIECES = ("snare drum", "kick drum", "hi-hat", "cymbal", "tom drum", "hand percussion", "hand clapping")
_INSTRUMENTS = (
    "piano", "acoustic guitar", "violin", "flute", "trumpet", "drums", "bass guitar", "church organ",
    "electric guitar", "horn blowing", "singing",
)
# Umbrella -> the classes it holds: they never share a mixture with it.
UMBRELLAS: dict[str, tuple[str, ...]] = {
    "music": _INSTRUMENTS + _DRUM_PIECES,
    "drums": _DRUM_PIECES,
    "bird song": ("chicken clucking", "duck quacking"),
    "crowd cheering": ("speech", "laughter", "hand clapping", "screaming", "singing"),
}
# Classes whose recordings often hold one another (storms, water, battles): pairwise apart.
TOGETHER: tuple[tuple[str, ...], ...] = (
    ("rain", "thunder", "wind"),
    ("rain", "flowing water", "water splashing"),
    ("explosion", "cannon fire", "gunshot", "crash"),
    ("sword fight", "groaning in pain", "punch", "whoosh", "bow and arrow"),
    ("car engine", "tyre skid", "car horn", "crash"),
    ("machinery", "power tool", "hammering"),
    ("footsteps", "digging"),
    ("wild animal", "wolf howling", "small animal squeaking", "dog barking"),
    ("bell ringing", "telephone ringing"),
    ("airplane", "helicopter"),
)


def conflicting(a: str, b: str) -> bool:
    """Whether classes ``a`` and ``b`` may not sound in one mixture (see the module doc)."""
    if a == b:
        return True
    if b in UMBRELLAS.get(a, ()) or a in UMBRELLAS.get(b, ()):
        return True
    return any(a in group and b in group for group in TOGETHER)


def class_index(label: str) -> int:
    """Position of ``label`` in ``ALL_CLASSES`` (the same as in ``CLASSES`` for its 13 labels);
    raises ``KeyError`` for an unknown label."""
    for index, sound_class in enumerate(ALL_CLASSES):
        if sound_class.label == label:
            return index
    raise KeyError(f"unknown sound class {label!r}")
