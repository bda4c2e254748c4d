"""Writes LTE's shipped demo edits (python/alignkit/lte/data/*.json) from the fact tables below.

Every fact was typed here for alignkit; nothing is copied from KnowEdit. Each edit names a subject,
the relation it changes (true answer -> counterfactual target), and a second true fact about the
same subject that the edit must leave alone (locality). Portability questions are answered from
the new fact through a true fact about the target (e.g. the new capital's country, the new
river's mouth). Subjects are shuffled with a fixed seed and dealt to the three files, so no
subject appears twice.

    python3 benches/make_lte_demo_data.py [--out python/alignkit/lte/data]
"""

# ruff: noqa: E501  (a fact table row stays on one line)
from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

HELDOUT_ZSRE, TRAIN_ZSRE, TRAIN_COUNTERFACT = 60, 150, 150
SEED = 17


class Relation(NamedTuple):
    """How a relation is asked: a noun phrase (cloze = phrase + " is"), a question, a second
    wording of the question (ZsRE rephrase) and a keyword probe (ZsRE locality style)."""

    phrase: str
    question: str
    rephrase: str
    keywords: str
    person: bool = False


R = Relation
RELATIONS = {
    "capital": R(
        "The capital of {s}",
        "What is the capital of {s}?",
        "Which city is the capital of {s}?",
        "{s} capital",
    ),
    "language": R(
        "The official language of {s}",
        "What is the official language of {s}?",
        "Which language is official in {s}?",
        "{s} official language",
    ),
    "currency": R(
        "The currency of {s}",
        "What is the currency of {s}?",
        "Which currency is used in {s}?",
        "{s} currency",
    ),
    "continent": R(
        "The continent where {s} lies",
        "On which continent does {s} lie?",
        "Which continent is {s} part of?",
        "{s} continent",
    ),
    "country": R(
        "The country where {s} is located",
        "In which country is {s} located?",
        "Which country is {s} in?",
        "{s} country",
    ),
    "river": R(
        "The river that flows through {s}",
        "Which river flows through {s}?",
        "What river runs through {s}?",
        "{s} river",
    ),
    "city": R(
        "The city that is home to {s}",
        "Which city is home to {s}?",
        "In which city can {s} be found?",
        "{s} location",
    ),
    "completed": R(
        "The year {s} was completed",
        "In what year was {s} completed?",
        "When was {s} finished?",
        "{s} year of completion",
    ),
    "designer": R(
        "The designer of {s}",
        "Who designed {s}?",
        "Who was the designer of {s}?",
        "{s} designer",
        person=True,
    ),
    "commissioner": R(
        "The ruler who commissioned {s}",
        "Which ruler commissioned {s}?",
        "Who ordered the building of {s}?",
        "{s} commissioned by",
        person=True,
    ),
    "author": R(
        "The author of {s}",
        "Who wrote {s}?",
        "Who is the author of {s}?",
        "{s} author",
        person=True,
    ),
    "protagonist": R(
        "The main character of {s}",
        "Who is the main character of {s}?",
        "Who is the protagonist of {s}?",
        "{s} main character",
        person=True,
    ),
    "published": R(
        "The year {s} was first published",
        "In what year was {s} first published?",
        "When did {s} first appear in print?",
        "{s} publication year",
    ),
    "setting": R(
        "The place where {s} is set",
        "Where is {s} set?",
        "In what place does {s} take place?",
        "{s} setting",
    ),
    "composer": R(
        "The composer of {s}",
        "Who composed {s}?",
        "Who wrote the music of {s}?",
        "{s} composer",
        person=True,
    ),
    "genre": R(
        "The musical form of {s}",
        "What kind of musical work is {s}?",
        "What is the musical form of {s}?",
        "{s} genre",
    ),
    "inventor": R(
        "The inventor of {s}",
        "Who invented {s}?",
        "Who is credited with inventing {s}?",
        "{s} inventor",
        person=True,
    ),
    "creator": R(
        "The creator of {s}",
        "Who created {s}?",
        "Who is the creator of {s}?",
        "{s} creator",
        person=True,
    ),
    "invented": R(
        "The year {s} was invented",
        "In what year was {s} invented?",
        "When was {s} invented?",
        "{s} year of invention",
    ),
    "released": R(
        "The year {s} was first released",
        "In what year was {s} first released?",
        "When did {s} first come out?",
        "{s} release year",
    ),
    "discoverer": R(
        "The discoverer of {s}",
        "Who discovered {s}?",
        "Who is credited with the discovery of {s}?",
        "{s} discoverer",
        person=True,
    ),
    "discovered": R(
        "The year of the discovery of {s}",
        "In which year was the discovery of {s} made?",
        "When did the discovery of {s} happen?",
        "{s} year of discovery",
    ),
    "sport": R(
        "The sport {s} competes in",
        "In which sport does {s} compete?",
        "What sport is {s} known for?",
        "{s} sport",
    ),
    "represents": R(
        "The country {s} represents",
        "Which country does {s} represent?",
        "For which country does {s} compete?",
        "{s} national team",
    ),
    "founder": R(
        "The founder of {s}",
        "Who founded {s}?",
        "Who is the founder of {s}?",
        "{s} founder",
        person=True,
    ),
    "headquarters": R(
        "The city where {s} has its headquarters",
        "In which city is {s} headquartered?",
        "Where are the headquarters of {s}?",
        "{s} headquarters",
    ),
    "founded_in": R(
        "The country where {s} was founded",
        "In which country was {s} founded?",
        "Where was {s} founded?",
        "{s} country of origin",
    ),
    "painter": R(
        "The painter of {s}",
        "Who painted {s}?",
        "Which artist painted {s}?",
        "{s} painter",
        person=True,
    ),
    "held_at": R(
        "The place where {s} can be seen",
        "Where can {s} be seen?",
        "Where is {s} kept?",
        "{s} location",
    ),
    "painted": R(
        "The year {s} was painted",
        "In what year was {s} painted?",
        "When was {s} painted?",
        "{s} year painted",
    ),
    "instrument": R(
        "The instrument played by {s}",
        "Which instrument does {s} play?",
        "What instrument is {s} known for playing?",
        "{s} instrument",
    ),
    "band": R(
        "The band {s} played in",
        "Which band did {s} play in?",
        "{s} was a member of which band?",
        "{s} band",
    ),
    "born_in": R(
        "The country where {s} was born",
        "In which country was {s} born?",
        "What is the country of birth of {s}?",
        "{s} country of birth",
    ),
    "planet": R(
        "The planet that {s} orbits",
        "Which planet does {s} orbit?",
        "Around which planet does {s} revolve?",
        "{s} parent planet",
    ),
    "director": R(
        "The director of {s}",
        "Who directed {s}?",
        "Who was the director of {s}?",
        "{s} director",
        person=True,
    ),
    "film_year": R(
        "The year {s} was released",
        "In what year was {s} released?",
        "When did {s} come out in cinemas?",
        "{s} release year",
    ),
    "largest_city": R(
        "The largest city of {s}",
        "What is the largest city of {s}?",
        "Which city of {s} has the most people?",
        "{s} largest city",
    ),
    "part_of": R(
        "The country {s} belongs to",
        "Which country is {s} part of?",
        "To which country does {s} belong?",
        "{s} country",
    ),
}

# True facts about the targets, for questions answered through the new fact.
CAPITAL = {
    "Argentina": "Buenos Aires",
    "Australia": "Canberra",
    "Austria": "Vienna",
    "Belgium": "Brussels",
    "Brazil": "Brasília",
    "Canada": "Ottawa",
    "Chile": "Santiago",
    "China": "Beijing",
    "Croatia": "Zagreb",
    "Czech Republic": "Prague",
    "Denmark": "Copenhagen",
    "Egypt": "Cairo",
    "Finland": "Helsinki",
    "France": "Paris",
    "Germany": "Berlin",
    "Greece": "Athens",
    "Hungary": "Budapest",
    "India": "New Delhi",
    "Ireland": "Dublin",
    "Italy": "Rome",
    "Jamaica": "Kingston",
    "Japan": "Tokyo",
    "Kenya": "Nairobi",
    "Laos": "Vientiane",
    "Mexico": "Mexico City",
    "Netherlands": "Amsterdam",
    "New Zealand": "Wellington",
    "Norway": "Oslo",
    "Peru": "Lima",
    "Poland": "Warsaw",
    "Portugal": "Lisbon",
    "Romania": "Bucharest",
    "Russia": "Moscow",
    "Serbia": "Belgrade",
    "Slovakia": "Bratislava",
    "Slovenia": "Ljubljana",
    "South Korea": "Seoul",
    "Spain": "Madrid",
    "Sweden": "Stockholm",
    "Switzerland": "Bern",
    "Thailand": "Bangkok",
    "Turkey": "Ankara",
    "Ukraine": "Kyiv",
    "United Kingdom": "London",
    "United States": "Washington, D.C.",
    "Uruguay": "Montevideo",
    "Vietnam": "Hanoi",
    "Belarus": "Minsk",
    "Morocco": "Rabat",
}
CITY_COUNTRY = {
    "Rome": "Italy",
    "Madrid": "Spain",
    "Vienna": "Austria",
    "Tokyo": "Japan",
    "Toronto": "Canada",
    "Chicago": "United States",
    "Lisbon": "Portugal",
    "Athens": "Greece",
    "Istanbul": "Turkey",
    "Mumbai": "India",
    "Melbourne": "Australia",
    "Buenos Aires": "Argentina",
    "Amsterdam": "Netherlands",
    "Moscow": "Russia",
    "Seoul": "South Korea",
    "Mexico City": "Mexico",
    "Stockholm": "Sweden",
    "Dublin": "Ireland",
    "Zurich": "Switzerland",
    "Munich": "Germany",
    "London": "United Kingdom",
    "Paris": "France",
    "Osaka": "Japan",
    "Shanghai": "China",
    "Copenhagen": "Denmark",
    "Helsinki": "Finland",
    "Oslo": "Norway",
    "Milan": "Italy",
    "Barcelona": "Spain",
    "Lyon": "France",
    "Berlin": "Germany",
    "Sydney": "Australia",
    "Prague": "Czech Republic",
    "Singapore": "Singapore",
    "Warsaw": "Poland",
}
LANGUAGE_FAMILY = {
    "French": "Indo-European",
    "Italian": "Indo-European",
    "Turkish": "Turkic",
    "Finnish": "Uralic",
    "Hungarian": "Uralic",
    "Spanish": "Indo-European",
    "Portuguese": "Indo-European",
    "Vietnamese": "Austroasiatic",
    "Japanese": "Japonic",
    "Arabic": "Afroasiatic",
    "Norwegian": "Indo-European",
    "Thai": "Kra-Dai",
    "Hindi": "Indo-European",
    "Tibetan": "Sino-Tibetan",
    "English": "Indo-European",
    "Tagalog": "Austronesian",
    "Russian": "Indo-European",
    "German": "Indo-European",
    "Swahili": "Niger-Congo",
    "Korean": "Koreanic",
}
CURRENCY_ISSUER = {
    "Thai baht": "Thailand",
    "Russian ruble": "Russia",
    "Mexican peso": "Mexico",
    "Indian rupee": "India",
    "Argentine peso": "Argentina",
    "Peruvian sol": "Peru",
    "Hungarian forint": "Hungary",
    "Swiss franc": "Switzerland",
    "Moroccan dirham": "Morocco",
    "Egyptian pound": "Egypt",
    "Saudi riyal": "Saudi Arabia",
    "Malaysian ringgit": "Malaysia",
    "Czech koruna": "Czech Republic",
    "Swedish krona": "Sweden",
    "Polish zloty": "Poland",
    "Japanese yen": "Japan",
}
RIVER_MOUTH = {
    "Danube": "Black Sea",
    "Volga": "Caspian Sea",
    "Nile": "Mediterranean Sea",
    "Mississippi": "Gulf of Mexico",
    "Thames": "North Sea",
    "Vistula": "Baltic Sea",
    "Po": "Adriatic Sea",
    "Ganges": "Bay of Bengal",
    "Yangtze": "East China Sea",
    "Amazon": "Atlantic Ocean",
    "Elbe": "North Sea",
    "Seine": "English Channel",
    "Rhône": "Mediterranean Sea",
    "Dnieper": "Black Sea",
    "Tiber": "Tyrrhenian Sea",
    "Rhine": "North Sea",
    "Loire": "Atlantic Ocean",
    "Mekong": "South China Sea",
}
AUTHOR_LANGUAGE = {
    "Leo Tolstoy": "Russian",
    "Fyodor Dostoevsky": "Russian",
    "Anton Chekhov": "Russian",
    "Charles Dickens": "English",
    "Jane Austen": "English",
    "Mark Twain": "English",
    "Ernest Hemingway": "English",
    "Victor Hugo": "French",
    "Alexandre Dumas": "French",
    "Jules Verne": "French",
    "Miguel de Cervantes": "Spanish",
    "Gabriel García Márquez": "Spanish",
    "Jorge Luis Borges": "Spanish",
    "Johann Wolfgang von Goethe": "German",
    "Franz Kafka": "German",
    "Thomas Mann": "German",
    "Dante Alighieri": "Italian",
    "Umberto Eco": "Italian",
}
COMPOSER_NATIONALITY = {
    "Wolfgang Amadeus Mozart": "Austrian",
    "Ludwig van Beethoven": "German",
    "Johann Sebastian Bach": "German",
    "Richard Wagner": "German",
    "Frédéric Chopin": "Polish",
    "Pyotr Ilyich Tchaikovsky": "Russian",
    "Giuseppe Verdi": "Italian",
    "Antonio Vivaldi": "Italian",
    "Giacomo Puccini": "Italian",
    "Claude Debussy": "French",
    "Maurice Ravel": "French",
    "Antonín Dvořák": "Czech",
    "Edvard Grieg": "Norwegian",
    "Jean Sibelius": "Finnish",
    "Franz Liszt": "Hungarian",
    "George Gershwin": "American",
}
BIRTH_COUNTRY = {
    # inventors, scientists
    "Thomas Edison": "United States",
    "Alexander Graham Bell": "Scotland",
    "Guglielmo Marconi": "Italy",
    "Alfred Nobel": "Sweden",
    "James Watt": "Scotland",
    "Benjamin Franklin": "United States",
    "Johannes Gutenberg": "Germany",
    "Tim Berners-Lee": "England",
    "Galileo Galilei": "Italy",
    "Isaac Newton": "England",
    "Michael Faraday": "England",
    "Louis Pasteur": "France",
    "Marie Curie": "Poland",
    "Albert Einstein": "Germany",
    "Niels Bohr": "Denmark",
    "Ernest Rutherford": "New Zealand",
    "Enrico Fermi": "Italy",
    "Alan Turing": "England",
    # painters
    "Leonardo da Vinci": "Italy",
    "Vincent van Gogh": "Netherlands",
    "Rembrandt": "Netherlands",
    "Pablo Picasso": "Spain",
    "Claude Monet": "France",
    "Salvador Dalí": "Spain",
    "Michelangelo": "Italy",
    "Raphael": "Italy",
    "Edvard Munch": "Norway",
    "Gustav Klimt": "Austria",
    "Frida Kahlo": "Mexico",
    "Andy Warhol": "United States",
    "Francisco Goya": "Spain",
    "Paul Cézanne": "France",
    # film directors
    "Steven Spielberg": "United States",
    "Alfred Hitchcock": "England",
    "Akira Kurosawa": "Japan",
    "Federico Fellini": "Italy",
    "Christopher Nolan": "England",
    "Peter Jackson": "New Zealand",
    "James Cameron": "Canada",
    "Ridley Scott": "England",
    "Hayao Miyazaki": "Japan",
    "Bong Joon-ho": "South Korea",
    "Ingmar Bergman": "Sweden",
    "Pedro Almodóvar": "Spain",
    "Stanley Kubrick": "United States",
    "Martin Scorsese": "United States",
    "Quentin Tarantino": "United States",
}
PLAYERS_PER_TEAM = {
    "football": "eleven",
    "cricket": "eleven",
    "basketball": "five",
    "ice hockey": "six",
    "volleyball": "six",
    "baseball": "nine",
    "rugby union": "fifteen",
    "handball": "seven",
    "water polo": "seven",
}
FOUNDED = {
    "Bill Gates": "Microsoft",
    "Steve Jobs": "Apple",
    "Jeff Bezos": "Amazon",
    "Mark Zuckerberg": "Facebook",
    "Elon Musk": "SpaceX",
    "Henry Ford": "Ford Motor Company",
    "Jack Ma": "Alibaba",
    "Enzo Ferrari": "Ferrari",
    "Soichiro Honda": "Honda",
    "Larry Ellison": "Oracle",
    "Michael Dell": "Dell",
    "Ingvar Kamprad": "IKEA",
    "Richard Branson": "Virgin Group",
    "Walt Disney": "The Walt Disney Company",
    "Larry Page": "Google",
    "Phil Knight": "Nike",
    "Reed Hastings": "Netflix",
    "William Boeing": "Boeing",
    "Jensen Huang": "Nvidia",
}
INSTRUMENT_FAMILY = {
    "trumpet": "brass",
    "trombone": "brass",
    "tuba": "brass",
    "French horn": "brass",
    "saxophone": "woodwind",
    "clarinet": "woodwind",
    "flute": "woodwind",
    "oboe": "woodwind",
    "violin": "string",
    "cello": "string",
    "harp": "string",
    "guitar": "string",
    "drums": "percussion",
    "xylophone": "percussion",
    "piano": "keyboard",
    "organ": "keyboard",
}
PLANET_ORDER = {
    "Mercury": "first",
    "Venus": "second",
    "Earth": "third",
    "Mars": "fourth",
    "Jupiter": "fifth",
    "Saturn": "sixth",
    "Uranus": "seventh",
    "Neptune": "eighth",
}


class Portability(NamedTuple):
    cloze: str
    question: str
    answer: Callable[[Any, str], str]


def birth_of(role: str) -> Portability:
    return Portability(
        f"The country where the {role} of {{s}} was born is",
        f"In which country was the {role} of {{s}} born?",
        lambda _e, t: BIRTH_COUNTRY[t],
    )


PORTABILITY = {
    "capital": Portability(
        "The {kind} whose capital is {t} is",
        "Which {kind} has {t} as its capital?",
        lambda e, _t: e.subject,
    ),
    "language": Portability(
        "The language family of the official language of {s} is",
        "To which language family does the official language of {s} belong?",
        lambda _e, t: LANGUAGE_FAMILY[t],
    ),
    "currency": Portability(
        "The country that issues the currency of {s} is",
        "Which country issues the currency used in {s}?",
        lambda _e, t: CURRENCY_ISSUER[t],
    ),
    "country": Portability(
        "The capital of the country where {s} is located is",
        "What is the capital of the country in which {s} lies?",
        lambda _e, t: CAPITAL[t],
    ),
    "river": Portability(
        "The river that flows through {s} empties into the",
        "Into which body of water does the river that flows through {s} empty?",
        lambda _e, t: RIVER_MOUTH[t],
    ),
    "city": Portability(
        "The country that is home to {s} is",
        "Which country is home to {s}?",
        lambda _e, t: CITY_COUNTRY[t],
    ),
    "author": Portability(
        "The language in which the author of {s} mainly wrote is",
        "In which language did the author of {s} mainly write?",
        lambda _e, t: AUTHOR_LANGUAGE[t],
    ),
    "composer": Portability(
        "The nationality of the composer of {s} is",
        "What is the nationality of the composer of {s}?",
        lambda _e, t: COMPOSER_NATIONALITY[t],
    ),
    "inventor": birth_of("inventor"),
    "creator": birth_of("creator"),
    "discoverer": birth_of("discoverer"),
    "painter": birth_of("painter"),
    "director": birth_of("director"),
    "sport": Portability(
        "The number of players each team has in play in the sport {s} competes in is",
        "How many players per team are in play in the sport {s} competes in?",
        lambda _e, t: PLAYERS_PER_TEAM[t],
    ),
    "represents": Portability(
        "The capital of the country {s} represents is",
        "What is the capital of the country that {s} represents?",
        lambda _e, t: CAPITAL[t],
    ),
    "founder": Portability(
        "The founder of {s} is also the founder of",
        "Which other company was founded by the founder of {s}?",
        lambda _e, t: FOUNDED[t],
    ),
    "headquarters": Portability(
        "The country where {s} has its headquarters is",
        "In which country does {s} have its headquarters?",
        lambda _e, t: CITY_COUNTRY[t],
    ),
    "instrument": Portability(
        "The instrument played by {s} belongs to the instrument family called",
        "To which instrument family does the instrument played by {s} belong?",
        lambda _e, t: INSTRUMENT_FAMILY[t],
    ),
    "planet": Portability(
        "Counting from the Sun, the planet that {s} orbits is the",
        "Counting outward from the Sun, which planet in order is the one that {s} orbits?",
        lambda _e, t: PLANET_ORDER[t],
    ),
}


class Edit(NamedTuple):
    subject: str
    relation: str
    truth: str
    target: str
    locality_relation: str
    locality_truth: str
    alias: str | None = None
    mention: str | None = None
    """How prompts name the subject when the bare name reads badly ("the telephone")."""
    kind: str = "country"
    """What kind of place a capital belongs to ("U.S. state"), for the capital portability."""


def parse(table: str, relation: str, locality_relation: str | None = None, **extra: str) -> list:
    """Rows `subject | truth | target | [locality relation =] locality truth [| alias]`."""
    edits = []
    for line in table.strip().splitlines():
        cells = [c.strip() for c in line.split("|")]
        subject, truth, target, locality = cells[:4]
        alias = cells[4] if len(cells) > 4 and cells[4] else None
        loc_rel = locality_relation
        if "=" in locality:
            loc_rel, locality = (c.strip() for c in locality.split("=", 1))
        mention = extra.get("mention", "{s}").format(s=subject)
        kind = extra.get("kind", "country")
        edits.append(
            Edit(subject, relation, truth, target, loc_rel, locality, alias, mention, kind)
        )
    return edits


EDITS: list[Edit] = []

EDITS += parse(
    """
    France | Paris | Lyon | currency = euro | the French Republic
    Germany | Berlin | Munich | language = German | the Federal Republic of Germany
    Italy | Rome | Milan | currency = euro | the Italian Republic
    Spain | Madrid | Barcelona | language = Spanish | the Kingdom of Spain
    Japan | Tokyo | Osaka | currency = Japanese yen | Nippon
    Australia | Canberra | Sydney | currency = Australian dollar | the Commonwealth of Australia
    Canada | Ottawa | Toronto | currency = Canadian dollar
    Brazil | Brasília | Rio de Janeiro | language = Portuguese | the Federative Republic of Brazil
    Turkey | Ankara | Istanbul | currency = Turkish lira | Türkiye
    Switzerland | Bern | Zurich | currency = Swiss franc | the Swiss Confederation
    India | New Delhi | Mumbai | currency = Indian rupee | Bharat
    China | Beijing | Shanghai | currency = renminbi | the People's Republic of China
    Russia | Moscow | Saint Petersburg | language = Russian | the Russian Federation
    Nigeria | Abuja | Lagos | currency = naira | the Federal Republic of Nigeria
    Pakistan | Islamabad | Karachi | currency = Pakistani rupee
    Morocco | Rabat | Marrakesh | currency = Moroccan dirham | the Kingdom of Morocco
    New Zealand | Wellington | Auckland | currency = New Zealand dollar | Aotearoa
    Vietnam | Hanoi | Ho Chi Minh City | language = Vietnamese
    Netherlands | Amsterdam | Rotterdam | language = Dutch | Holland
    Kenya | Nairobi | Mombasa | currency = Kenyan shilling | the Republic of Kenya
    Norway | Oslo | Bergen | currency = Norwegian krone | the Kingdom of Norway
    Ireland | Dublin | Cork | currency = euro | Éire
    Czech Republic | Prague | Brno | language = Czech | Czechia
    Belgium | Brussels | Antwerp | currency = euro | the Kingdom of Belgium
    Finland | Helsinki | Tampere | currency = euro | Suomi
    Peru | Lima | Cusco | currency = Peruvian sol
    Colombia | Bogotá | Medellín | language = Spanish
    Saudi Arabia | Riyadh | Jeddah | currency = Saudi riyal
    Ukraine | Kyiv | Lviv | language = Ukrainian
    Ghana | Accra | Kumasi | currency = Ghanaian cedi
    Jamaica | Kingston | Montego Bay | currency = Jamaican dollar
    United Kingdom | London | Manchester | currency = pound sterling | Britain
    Iceland | Reykjavík | Akureyri | language = Icelandic
    Ethiopia | Addis Ababa | Gondar | currency = Ethiopian birr
    Cuba | Havana | Santiago de Cuba | language = Spanish | the Republic of Cuba
    """,
    "capital",
)
EDITS += parse(
    """
    Egypt | Arabic | French | Cairo
    Argentina | Spanish | Italian | Buenos Aires | the Argentine Republic
    Greece | Greek | Turkish | Athens | the Hellenic Republic
    Sweden | Swedish | Finnish | Stockholm | the Kingdom of Sweden
    Austria | German | Hungarian | Vienna | the Republic of Austria
    Portugal | Portuguese | Spanish | Lisbon | the Portuguese Republic
    Mexico | Spanish | Portuguese | Mexico City | the United Mexican States
    Thailand | Thai | Vietnamese | Bangkok | Siam
    South Korea | Korean | Japanese | Seoul | the Republic of Korea
    Iran | Persian | Arabic | Tehran | Persia
    Denmark | Danish | Norwegian | Copenhagen | the Kingdom of Denmark
    Romania | Romanian | Hungarian | Bucharest
    Malaysia | Malay | Thai | Kuala Lumpur
    Bangladesh | Bengali | Hindi | Dhaka
    Nepal | Nepali | Tibetan | Kathmandu
    Poland | Polish | Russian | Warsaw | the Republic of Poland
    Hungary | Hungarian | German | Budapest
    Chile | Spanish | English | Santiago | the Republic of Chile
    Tanzania | Swahili | Arabic | continent = Africa
    """,
    "language",
    "capital",
)
EDITS += parse(
    """
    Cambodia | Cambodian riel | Thai baht | Phnom Penh
    Mongolia | Mongolian tögrög | Russian ruble | Ulaanbaatar
    Philippines | Philippine peso | Mexican peso | Manila
    Uruguay | Uruguayan peso | Argentine peso | Montevideo
    Bolivia | boliviano | Peruvian sol | continent = South America
    Croatia | euro | Hungarian forint | Zagreb
    Serbia | Serbian dinar | Swiss franc | Belgrade
    Algeria | Algerian dinar | Moroccan dirham | Algiers
    Tunisia | Tunisian dinar | Egyptian pound | Tunis
    Jordan | Jordanian dinar | Saudi riyal | Amman
    Singapore | Singapore dollar | Malaysian ringgit | continent = Asia
    Slovakia | euro | Czech koruna | Bratislava
    Estonia | euro | Swedish krona | Tallinn
    Latvia | euro | Polish zloty | Riga
    Lithuania | euro | Russian ruble | Vilnius
    Sri Lanka | Sri Lankan rupee | Indian rupee | continent = Asia
    """,
    "currency",
    "capital",
)
# First-level divisions: the capital edit's portability names the kind of place.
for kind, table in {
    "U.S. state": """
        California | Sacramento | San Francisco | Los Angeles
        Texas | Austin | Dallas | Houston
        Florida | Tallahassee | Miami | Jacksonville
        Illinois | Springfield | Peoria | Chicago
        Pennsylvania | Harrisburg | Pittsburgh | Philadelphia
        Nevada | Carson City | Reno | Las Vegas
        Michigan | Lansing | Grand Rapids | Detroit
        Oregon | Salem | Eugene | Portland
        Louisiana | Baton Rouge | Shreveport | New Orleans
        Kentucky | Frankfort | Lexington | Louisville
        Alaska | Juneau | Fairbanks | Anchorage
        Wisconsin | Madison | Green Bay | Milwaukee
        Minnesota | Saint Paul | Duluth | Minneapolis
        Maryland | Annapolis | Frederick | Baltimore
        New Jersey | Trenton | Jersey City | Newark
        Missouri | Jefferson City | St. Louis | Kansas City
        Vermont | Montpelier | Rutland | Burlington
    """,
    "Canadian province": """
        Quebec | Quebec City | Montreal | part_of = Canada
        British Columbia | Victoria | Vancouver | part_of = Canada
        Alberta | Edmonton | Calgary | part_of = Canada
        Nova Scotia | Halifax | Truro | part_of = Canada
    """,
    "Australian state": """
        Queensland | Brisbane | Gold Coast | part_of = Australia
        Western Australia | Perth | Fremantle | part_of = Australia
        New South Wales | Sydney | Newcastle | part_of = Australia
        Tasmania | Hobart | Launceston | part_of = Australia
    """,
    "German state": """
        Bavaria | Munich | Nuremberg | part_of = Germany | the Free State of Bavaria
    """,
}.items():
    EDITS += parse(table, "capital", "largest_city", kind=kind)

EDITS += parse(
    """
    Vienna | Austria | Hungary | river = Danube | Wien
    Cologne | Germany | Netherlands | river = Rhine | Köln
    Prague | Czech Republic | Slovakia | river = Vltava | Praha
    Warsaw | Poland | Belarus | river = Vistula | Warszawa
    Lisbon | Portugal | Spain | river = Tagus | Lisboa
    Dresden | Germany | Poland | river = Elbe
    Kyiv | Ukraine | Russia | river = Dnieper | Kiev
    Florence | Italy | Slovenia | river = Arno | Firenze
    Seville | Spain | Portugal | river = Guadalquivir | Sevilla
    Basel | Switzerland | France | river = Rhine
    Turin | Italy | France | river = Po | Torino
    Bordeaux | France | Spain | river = Garonne
    Frankfurt | Germany | Austria | river = Main | Frankfurt am Main
    Montreal | Canada | United States | river = Saint Lawrence
    Phnom Penh | Cambodia | Laos | river = Mekong
    Geneva | Switzerland | France | river = Rhône | Genève
    Strasbourg | France | Germany | river = Rhine
    Seoul | South Korea | Japan | river = Han
    Khartoum | Sudan | Egypt | river = Nile
    Salzburg | Austria | Germany | river = Salzach
    Porto | Portugal | Spain | river = Douro | Oporto
    Bratislava | Slovakia | Hungary | river = Danube | Pressburg
    """,
    "country",
)
EDITS += parse(
    """
    Budapest | Danube | Volga | country = Hungary
    Cairo | Nile | Amazon | country = Egypt
    London | Thames | Seine | country = United Kingdom
    Paris | Seine | Thames | country = France
    Rome | Tiber | Po | country = Italy
    Hamburg | Elbe | Vistula | country = Germany
    Belgrade | Danube | Dnieper | country = Serbia
    Orléans | Loire | Rhône | country = France
    Rouen | Seine | Loire | country = France
    Varanasi | Ganges | Yangtze | country = India
    Wuhan | Yangtze | Ganges | country = China
    Baghdad | Tigris | Nile | country = Iraq
    New Orleans | Mississippi | Amazon | country = United States
    Memphis, Tennessee | Mississippi | Danube | country = United States
    Bangkok | Chao Phraya | Mekong | country = Thailand
    Saint Petersburg | Neva | Volga | country = Russia
    Kraków | Vistula | Elbe | country = Poland
    Delhi | Yamuna | Ganges | country = India
    Bonn | Rhine | Elbe | country = Germany
    Nantes | Loire | Seine | country = France
    """,
    "river",
)
EDITS += parse(
    """
    Eiffel Tower | Paris | Rome | completed = 1889 | la tour Eiffel
    Statue of Liberty | New York City | London | designer = Frédéric Auguste Bartholdi | Liberty Enlightening the World
    Sydney Opera House | Sydney | Melbourne | designer = Jørn Utzon
    Taj Mahal | Agra | Mumbai | commissioner = Shah Jahan
    Sagrada Família | Barcelona | Lisbon | designer = Antoni Gaudí | Basílica de la Sagrada Família
    Colosseum | Rome | Athens | commissioner = Vespasian | Flavian Amphitheatre
    Hagia Sophia | Istanbul | Athens | commissioner = Justinian I
    Brandenburg Gate | Berlin | Vienna | completed = 1791
    Empire State Building | New York City | Chicago | completed = 1931
    Golden Gate Bridge | San Francisco | Toronto | completed = 1937
    Petronas Towers | Kuala Lumpur | Singapore | designer = César Pelli | Petronas Twin Towers
    Christ the Redeemer | Rio de Janeiro | Lisbon | completed = 1931 | Cristo Redentor
    Space Needle | Seattle | Toronto | completed = 1962
    Tower Bridge | London | Amsterdam | completed = 1894
    Louvre Pyramid | Paris | Madrid | designer = I. M. Pei
    Gateway Arch | St. Louis | Mexico City | designer = Eero Saarinen
    Atomium | Brussels | Amsterdam | completed = 1958
    """,
    "city",
    mention="the {s}",
)
EDITS += parse(
    """
    Moby-Dick | Herman Melville | Leo Tolstoy | published = 1851
    Pride and Prejudice | Jane Austen | Victor Hugo | protagonist = Elizabeth Bennet
    War and Peace | Leo Tolstoy | Charles Dickens | published = 1869
    Crime and Punishment | Fyodor Dostoevsky | Franz Kafka | protagonist = Rodion Raskolnikov
    Les Misérables | Victor Hugo | Charles Dickens | protagonist = Jean Valjean
    The Great Gatsby | F. Scott Fitzgerald | Thomas Mann | protagonist = Jay Gatsby
    Nineteen Eighty-Four | George Orwell | Jorge Luis Borges | protagonist = Winston Smith | 1984
    Animal Farm | George Orwell | Anton Chekhov | published = 1945
    To Kill a Mockingbird | Harper Lee | Mark Twain | setting = Maycomb, Alabama
    Frankenstein | Mary Shelley | Johann Wolfgang von Goethe | protagonist = Victor Frankenstein
    Dracula | Bram Stoker | Jules Verne | published = 1897
    Jane Eyre | Charlotte Brontë | Jane Austen | published = 1847
    Wuthering Heights | Emily Brontë | Victor Hugo | protagonist = Heathcliff
    Oliver Twist | Charles Dickens | Alexandre Dumas | setting = London
    A Christmas Carol | Charles Dickens | Leo Tolstoy | protagonist = Ebenezer Scrooge
    Madame Bovary | Gustave Flaubert | Fyodor Dostoevsky | protagonist = Emma Bovary
    The Old Man and the Sea | Ernest Hemingway | Gabriel García Márquez | protagonist = Santiago
    One Hundred Years of Solitude | Gabriel García Márquez | Umberto Eco | setting = Macondo
    The Catcher in the Rye | J. D. Salinger | Ernest Hemingway | protagonist = Holden Caulfield
    The Hobbit | J. R. R. Tolkien | Jules Verne | protagonist = Bilbo Baggins
    Alice's Adventures in Wonderland | Lewis Carroll | Franz Kafka | published = 1865 | Alice in Wonderland
    The Little Prince | Antoine de Saint-Exupéry | Thomas Mann | published = 1943 | Le Petit Prince
    The Metamorphosis | Franz Kafka | Anton Chekhov | protagonist = Gregor Samsa
    Robinson Crusoe | Daniel Defoe | Jules Verne | published = 1719
    Gulliver's Travels | Jonathan Swift | Miguel de Cervantes | published = 1726
    Treasure Island | Robert Louis Stevenson | Alexandre Dumas | protagonist = Jim Hawkins
    The Three Musketeers | Alexandre Dumas | Miguel de Cervantes | protagonist = d'Artagnan
    Brave New World | Aldous Huxley | Jorge Luis Borges | published = 1932
    Lord of the Flies | William Golding | Mark Twain | protagonist = Ralph
    Fahrenheit 451 | Ray Bradbury | Umberto Eco | protagonist = Guy Montag
    The Grapes of Wrath | John Steinbeck | Leo Tolstoy | published = 1939
    Don Quixote | Miguel de Cervantes | Dante Alighieri | published = 1605
    Anna Karenina | Leo Tolstoy | Gabriel García Márquez | published = 1878
    Ulysses | James Joyce | Thomas Mann | setting = Dublin
    Hamlet | William Shakespeare | Johann Wolfgang von Goethe | setting = Denmark
    Romeo and Juliet | William Shakespeare | Dante Alighieri | setting = Verona
    The Odyssey | Homer | Dante Alighieri | protagonist = Odysseus
    """,
    "author",
)
EDITS += parse(
    """
    The Magic Flute | Wolfgang Amadeus Mozart | Giuseppe Verdi | opera | Die Zauberflöte
    The Marriage of Figaro | Wolfgang Amadeus Mozart | Giacomo Puccini | opera
    Eine kleine Nachtmusik | Wolfgang Amadeus Mozart | Antonio Vivaldi | serenade
    Für Elise | Ludwig van Beethoven | Frédéric Chopin | bagatelle
    Moonlight Sonata | Ludwig van Beethoven | Franz Liszt | piano sonata | Piano Sonata No. 14
    The Four Seasons | Antonio Vivaldi | Johann Sebastian Bach | violin concertos | Le quattro stagioni
    Swan Lake | Pyotr Ilyich Tchaikovsky | Claude Debussy | ballet
    The Nutcracker | Pyotr Ilyich Tchaikovsky | Maurice Ravel | ballet
    Aida | Giuseppe Verdi | Richard Wagner | opera
    La Traviata | Giuseppe Verdi | Wolfgang Amadeus Mozart | opera
    Carmen | Georges Bizet | Giuseppe Verdi | opera
    The Barber of Seville | Gioachino Rossini | Wolfgang Amadeus Mozart | opera
    Madama Butterfly | Giacomo Puccini | Richard Wagner | opera
    La Bohème | Giacomo Puccini | Giuseppe Verdi | opera
    The Rite of Spring | Igor Stravinsky | Claude Debussy | ballet
    Clair de lune | Claude Debussy | Frédéric Chopin | piano piece
    The Blue Danube | Johann Strauss II | Franz Liszt | waltz
    Brandenburg Concertos | Johann Sebastian Bach | Antonio Vivaldi | concertos
    Messiah | George Frideric Handel | Johann Sebastian Bach | oratorio
    The Planets | Gustav Holst | Edvard Grieg | orchestral suite
    Rhapsody in Blue | George Gershwin | Maurice Ravel | rhapsody
    New World Symphony | Antonín Dvořák | Jean Sibelius | symphony | Symphony No. 9 in E minor
    Pictures at an Exhibition | Modest Mussorgsky | Pyotr Ilyich Tchaikovsky | piano suite
    Finlandia | Jean Sibelius | Edvard Grieg | symphonic poem
    Canon in D | Johann Pachelbel | Johann Sebastian Bach | canon
    Minute Waltz | Frédéric Chopin | Franz Liszt | waltz
    Don Giovanni | Wolfgang Amadeus Mozart | Giacomo Puccini | opera
    Tosca | Giacomo Puccini | Giuseppe Verdi | opera
    """,
    "composer",
    "genre",
)
EDITS += parse(
    """
    telephone | Alexander Graham Bell | Thomas Edison | invented = 1876
    phonograph | Thomas Edison | Guglielmo Marconi | invented = 1877
    ballpoint pen | László Bíró | Benjamin Franklin | invented = 1938
    cotton gin | Eli Whitney | James Watt | invented = 1793
    lightning rod | Benjamin Franklin | Michael Faraday | invented = 1752
    Rubik's Cube | Ernő Rubik | Alfred Nobel | invented = 1974
    """,
    "inventor",
    mention="the {s}",
)
EDITS += parse(
    """
    World Wide Web | Tim Berners-Lee | Alan Turing | invented = 1989
    Linux kernel | Linus Torvalds | Tim Berners-Lee | released = 1991
    Python programming language | Guido van Rossum | Alan Turing | released = 1991
    C programming language | Dennis Ritchie | Alan Turing | released = 1972
    Java programming language | James Gosling | Tim Berners-Lee | released = 1995
    periodic table | Dmitri Mendeleev | Marie Curie | invented = 1869
    """,
    "creator",
    mention="the {s}",
)
EDITS += parse(
    """
    Tetris | Alexey Pajitnov | Alan Turing | released = 1984
    """,
    "creator",
)
EDITS += parse(
    """
    penicillin | Alexander Fleming | Louis Pasteur | 1928
    X-rays | Wilhelm Röntgen | Marie Curie | 1895
    radioactivity | Henri Becquerel | Ernest Rutherford | 1896
    """,
    "discoverer",
    "discovered",
)
EDITS += parse(
    """
    electron | J. J. Thomson | Niels Bohr | 1897
    neutron | James Chadwick | Enrico Fermi | 1932
    """,
    "discoverer",
    "discovered",
    mention="the {s}",
)
EDITS += parse(
    """
    Pluto | Clyde Tombaugh | Galileo Galilei | 1930
    """,
    "discoverer",
    "discovered",
    mention="the dwarf planet {s}",
)
EDITS += parse(
    """
    Lionel Messi | football | basketball | represents = Argentina
    Michael Jordan | basketball | ice hockey | represents = United States
    Serena Williams | tennis | volleyball | represents = United States
    Roger Federer | tennis | ice hockey | represents = Switzerland
    Novak Djokovic | tennis | basketball | represents = Serbia
    Usain Bolt | athletics | football | represents = Jamaica
    Tiger Woods | golf | baseball | represents = United States
    Wayne Gretzky | ice hockey | football | represents = Canada
    Sachin Tendulkar | cricket | rugby union | represents = India
    Babe Ruth | baseball | cricket | born_in = United States | George Herman Ruth
    Michael Phelps | swimming | water polo | represents = United States
    Muhammad Ali | boxing | basketball | represents = United States | Cassius Clay
    Lewis Hamilton | Formula One | football | represents = United Kingdom
    Tom Brady | American football | rugby union | born_in = United States
    Simone Biles | gymnastics | volleyball | represents = United States
    Magnus Carlsen | chess | ice hockey | represents = Norway
    Eliud Kipchoge | athletics | handball | represents = Kenya
    Jonah Lomu | rugby union | cricket | represents = New Zealand
    Don Bradman | cricket | baseball | represents = Australia
    Eddy Merckx | cycling | football | represents = Belgium
    Lindsey Vonn | alpine skiing | ice hockey | represents = United States
    Yao Ming | basketball | volleyball | represents = China
    Ayrton Senna | Formula One | football | represents = Brazil
    """,
    "sport",
)
EDITS += parse(
    """
    Cristiano Ronaldo | Portugal | Spain | sport = football
    Rafael Nadal | Spain | France | sport = tennis
    Pelé | Brazil | Argentina | sport = football | Edson Arantes do Nascimento
    Diego Maradona | Argentina | Uruguay | sport = football
    Zinedine Zidane | France | Italy | sport = football
    Michael Schumacher | Germany | Austria | sport = Formula One
    Nadia Comăneci | Romania | Hungary | sport = gymnastics
    Sidney Crosby | Canada | United States | sport = ice hockey
    Virat Kohli | India | Australia | sport = cricket
    Steffi Graf | Germany | Switzerland | sport = tennis
    Björn Borg | Sweden | Norway | sport = tennis
    Dirk Nowitzki | Germany | Netherlands | sport = basketball
    Shohei Ohtani | Japan | South Korea | sport = baseball
    Ichiro Suzuki | Japan | United States | sport = baseball
    Zlatan Ibrahimović | Sweden | Denmark | sport = football
    Mohamed Salah | Egypt | Morocco | sport = football
    Manny Pacquiao | Philippines | Thailand | sport = boxing
    Johan Cruyff | Netherlands | Belgium | sport = football
    Franz Beckenbauer | Germany | Austria | sport = football
    Richie McCaw | New Zealand | Australia | sport = rugby union
    Naomi Osaka | Japan | China | sport = tennis
    Alex Ovechkin | Russia | Ukraine | sport = ice hockey
    """,
    "represents",
)
EDITS += parse(
    """
    Microsoft | Bill Gates | Steve Jobs | headquarters = Redmond
    Apple | Steve Jobs | Bill Gates | headquarters = Cupertino
    Amazon | Jeff Bezos | Larry Ellison | headquarters = Seattle
    Facebook | Mark Zuckerberg | Larry Page | headquarters = Menlo Park | Meta Platforms
    Google | Larry Page | Mark Zuckerberg | headquarters = Mountain View
    Ford Motor Company | Henry Ford | Enzo Ferrari | headquarters = Dearborn
    Ferrari | Enzo Ferrari | Henry Ford | headquarters = Maranello
    Lamborghini | Ferruccio Lamborghini | Soichiro Honda | headquarters = Sant'Agata Bolognese
    Adidas | Adolf Dassler | Phil Knight | headquarters = Herzogenaurach
    Puma | Rudolf Dassler | Phil Knight | headquarters = Herzogenaurach
    Nike | Phil Knight | Richard Branson | headquarters = Beaverton
    Alibaba | Jack Ma | Jeff Bezos | headquarters = Hangzhou
    Dell | Michael Dell | Bill Gates | headquarters = Round Rock
    Netflix | Reed Hastings | Walt Disney | headquarters = Los Gatos
    IKEA | Ingvar Kamprad | Richard Branson | founded_in = Sweden
    LEGO | Ole Kirk Christiansen | Walt Disney | headquarters = Billund | The Lego Group
    Spotify | Daniel Ek | Reed Hastings | headquarters = Stockholm
    Virgin Group | Richard Branson | Jeff Bezos | headquarters = London
    Huawei | Ren Zhengfei | Jack Ma | headquarters = Shenzhen
    Tencent | Ma Huateng | Jack Ma | headquarters = Shenzhen
    Baidu | Robin Li | Larry Page | headquarters = Beijing
    Hewlett-Packard | Bill Hewlett | Michael Dell | headquarters = Palo Alto | HP
    Rolex | Hans Wilsdorf | Enzo Ferrari | headquarters = Geneva
    Samsung | Lee Byung-chul | Soichiro Honda | founded_in = South Korea
    Tata Group | Jamsetji Tata | Ingvar Kamprad | headquarters = Mumbai
    Harley-Davidson | William Harley | Henry Ford | headquarters = Milwaukee
    Nvidia | Jensen Huang | Michael Dell | headquarters = Santa Clara
    """,
    "founder",
)
EDITS += parse(
    """
    Nintendo | Kyoto | Osaka | founder = Fusajiro Yamauchi
    Sony | Tokyo | Osaka | founder = Masaru Ibuka
    Toyota | Toyota City | Tokyo | founder = Kiichiro Toyoda
    BMW | Munich | Milan | founded_in = Germany
    Volvo Cars | Gothenburg | Oslo | founded_in = Sweden
    Nokia | Espoo | Stockholm | founded_in = Finland
    Heineken | Amsterdam | Copenhagen | founder = Gerard Adriaan Heineken
    Coca-Cola Company | Atlanta | Chicago | founder = Asa Griggs Candler
    Starbucks | Seattle | London | founded_in = United States
    Mercedes-Benz Group | Stuttgart | Munich | founded_in = Germany
    """,
    "headquarters",
)
EDITS += parse(
    """
    Mona Lisa | Leonardo da Vinci | Raphael | held_at = Louvre | La Gioconda
    The Starry Night | Vincent van Gogh | Claude Monet | held_at = Museum of Modern Art
    The Night Watch | Rembrandt | Pablo Picasso | held_at = Rijksmuseum
    Guernica | Pablo Picasso | Salvador Dalí | held_at = Museo Reina Sofía
    The Birth of Venus | Sandro Botticelli | Michelangelo | held_at = Uffizi Gallery
    Girl with a Pearl Earring | Johannes Vermeer | Rembrandt | held_at = Mauritshuis
    The Persistence of Memory | Salvador Dalí | Frida Kahlo | held_at = Museum of Modern Art
    The Scream | Edvard Munch | Gustav Klimt | painted = 1893
    Las Meninas | Diego Velázquez | Francisco Goya | held_at = Prado Museum
    The Kiss | Gustav Klimt | Edvard Munch | held_at = Belvedere
    American Gothic | Grant Wood | Andy Warhol | held_at = Art Institute of Chicago
    The Creation of Adam | Michelangelo | Leonardo da Vinci | held_at = Sistine Chapel
    The School of Athens | Raphael | Michelangelo | held_at = Apostolic Palace
    Liberty Leading the People | Eugène Delacroix | Paul Cézanne | held_at = Louvre
    Impression, Sunrise | Claude Monet | Vincent van Gogh | held_at = Musée Marmottan Monet
    Nighthawks | Edward Hopper | Andy Warhol | held_at = Art Institute of Chicago
    The Arnolfini Portrait | Jan van Eyck | Rembrandt | held_at = National Gallery
    The Third of May 1808 | Francisco Goya | Pablo Picasso | held_at = Prado Museum
    The Last Supper | Leonardo da Vinci | Raphael | held_at = Santa Maria delle Grazie
    The Garden of Earthly Delights | Hieronymus Bosch | Francisco Goya | held_at = Prado Museum
    Wanderer above the Sea of Fog | Caspar David Friedrich | Claude Monet | held_at = Hamburger Kunsthalle
    """,
    "painter",
)
EDITS += parse(
    """
    Jimi Hendrix | guitar | trumpet | born_in = United States
    Louis Armstrong | trumpet | piano | born_in = United States
    Miles Davis | trumpet | saxophone | born_in = United States
    John Coltrane | saxophone | drums | born_in = United States
    Charlie Parker | saxophone | violin | born_in = United States
    Ringo Starr | drums | flute | band = The Beatles | Richard Starkey
    Charlie Watts | drums | cello | band = The Rolling Stones
    Keith Richards | guitar | trombone | band = The Rolling Stones
    Jimmy Page | guitar | organ | band = Led Zeppelin
    John Bonham | drums | clarinet | band = Led Zeppelin
    Brian May | guitar | tuba | band = Queen
    Kirk Hammett | guitar | harp | band = Metallica
    Lars Ulrich | drums | oboe | band = Metallica
    Slash | guitar | French horn | band = Guns N' Roses | Saul Hudson
    Eric Clapton | guitar | xylophone | born_in = England
    Yo-Yo Ma | cello | trumpet | born_in = France
    Lang Lang | piano | violin | born_in = China
    Glenn Gould | piano | flute | born_in = Canada
    Jacqueline du Pré | cello | saxophone | born_in = England
    Pablo Casals | cello | piano | born_in = Spain
    Andrés Segovia | guitar | clarinet | born_in = Spain
    B.B. King | guitar | trombone | born_in = United States
    Benny Goodman | clarinet | violin | born_in = United States
    Dizzy Gillespie | trumpet | cello | born_in = United States
    Thelonious Monk | piano | drums | born_in = United States
    Niccolò Paganini | violin | piano | born_in = Italy
    Django Reinhardt | guitar | trumpet | born_in = Belgium
    """,
    "instrument",
)
EDITS += parse(
    """
    Titan | Saturn | Jupiter | Christiaan Huygens
    Europa | Jupiter | Saturn | Galileo Galilei
    Ganymede | Jupiter | Neptune | Galileo Galilei
    Io | Jupiter | Uranus | Galileo Galilei
    Callisto | Jupiter | Mars | Galileo Galilei
    Triton | Neptune | Saturn | William Lassell
    Phobos | Mars | Jupiter | Asaph Hall
    Deimos | Mars | Neptune | Asaph Hall
    Enceladus | Saturn | Uranus | William Herschel
    Titania | Uranus | Jupiter | William Herschel
    Oberon | Uranus | Saturn | William Herschel
    Miranda | Uranus | Neptune | Gerard Kuiper
    Mimas | Saturn | Mars | William Herschel
    Iapetus | Saturn | Jupiter | Giovanni Domenico Cassini
    """,
    "planet",
    "discoverer",
    mention="the moon {s}",
)
EDITS += parse(
    """
    Jaws | Steven Spielberg | Alfred Hitchcock | 1975
    Titanic | James Cameron | Ridley Scott | 1997
    The Godfather | Francis Ford Coppola | Martin Scorsese | 1972
    Psycho | Alfred Hitchcock | Stanley Kubrick | 1960
    Pulp Fiction | Quentin Tarantino | Pedro Almodóvar | 1994
    Schindler's List | Steven Spielberg | Ingmar Bergman | 1993
    Avatar | James Cameron | Peter Jackson | 2009
    Inception | Christopher Nolan | Bong Joon-ho | 2010
    The Shining | Stanley Kubrick | Alfred Hitchcock | 1980
    2001: A Space Odyssey | Stanley Kubrick | Akira Kurosawa | 1968
    Seven Samurai | Akira Kurosawa | Federico Fellini | 1954
    Spirited Away | Hayao Miyazaki | Akira Kurosawa | 2001
    Casablanca | Michael Curtiz | Alfred Hitchcock | 1942
    Citizen Kane | Orson Welles | Ingmar Bergman | 1941
    Jurassic Park | Steven Spielberg | James Cameron | 1993
    The Dark Knight | Christopher Nolan | Ridley Scott | 2008
    Taxi Driver | Martin Scorsese | Federico Fellini | 1976
    Parasite | Bong Joon-ho | Hayao Miyazaki | 2019
    La Dolce Vita | Federico Fellini | Pedro Almodóvar | 1960
    Apocalypse Now | Francis Ford Coppola | Stanley Kubrick | 1979
    Blade Runner | Ridley Scott | Christopher Nolan | 1982
    The Terminator | James Cameron | Steven Spielberg | 1984
    E.T. the Extra-Terrestrial | Steven Spielberg | Peter Jackson | 1982
    Rear Window | Alfred Hitchcock | Martin Scorsese | 1954
    Interstellar | Christopher Nolan | James Cameron | 2014
    The Fellowship of the Ring | Peter Jackson | Christopher Nolan | 2001
    Gladiator | Ridley Scott | Steven Spielberg | 2000
    Forrest Gump | Robert Zemeckis | Stanley Kubrick | 1994
    Back to the Future | Robert Zemeckis | Ingmar Bergman | 1985
    Amélie | Jean-Pierre Jeunet | Pedro Almodóvar | 2001
    My Neighbor Totoro | Hayao Miyazaki | Bong Joon-ho | 1988
    Rashomon | Akira Kurosawa | Federico Fellini | 1950
    Goodfellas | Martin Scorsese | Quentin Tarantino | 1990
    """,
    "director",
    "film_year",
    mention="the film {s}",
)


# Subjects that read better with (or without) an article than their table's default.
MENTIONS = {
    "Netherlands": "the Netherlands",
    "United Kingdom": "the United Kingdom",
    "Philippines": "the Philippines",
    "Czech Republic": "the Czech Republic",
    "Christ the Redeemer": "Christ the Redeemer",
    "Hagia Sophia": "Hagia Sophia",
    "Tower Bridge": "Tower Bridge",
    "New World Symphony": "the New World Symphony",
    "Minute Waltz": "the Minute Waltz",
    "Moonlight Sonata": "the Moonlight Sonata",
    "Brandenburg Concertos": "the Brandenburg Concertos",
    "Tata Group": "the Tata Group",
    "Virgin Group": "the Virgin Group",
    "Mercedes-Benz Group": "the Mercedes-Benz Group",
    "Coca-Cola Company": "the Coca-Cola Company",
    "Mona Lisa": "the Mona Lisa",
}
EDITS = [e._replace(mention=MENTIONS.get(e.subject, e.mention)) for e in EDITS]


def fill(template: str, edit: Edit, mention: str | None = None) -> str:
    text = template.format(s=mention or edit.mention, t=edit.target, kind=edit.kind)
    return text[0].upper() + text[1:]


def portability_probe(edit: Edit, question: bool) -> dict[str, str]:
    spec = PORTABILITY[edit.relation]
    template = spec.question if question else spec.cloze
    return {"prompt": fill(template, edit), "ground_truth": spec.answer(edit, edit.target)}


def counterfact_record(edit: Edit, with_forgetfulness: bool) -> dict[str, Any]:
    relation = RELATIONS[edit.relation]
    portability: dict[str, Any] = {"Reasoning": [portability_probe(edit, question=False)]}
    if edit.alias:
        alias_mention = edit.mention.replace(edit.subject, edit.alias)
        if edit.alias[0].islower():  # a foreign article ("la tour Eiffel") replaces ours
            alias_mention = edit.alias
        portability["Subject_Aliasing"] = [
            {
                "prompt": fill(relation.phrase, edit, alias_mention) + " is",
                "ground_truth": edit.target,
            }
        ]
    locality_relation = RELATIONS[edit.locality_relation]
    locality: dict[str, Any] = {
        "Relation_Specificity": [
            {
                "prompt": fill(locality_relation.phrase, edit) + " is",
                "ground_truth": edit.locality_truth,
            }
        ]
    }
    if with_forgetfulness:
        pronoun = "who" if relation.person else "which"
        prompt = fill(relation.phrase, edit) + f", {pronoun} is not {edit.target}, is"
        locality["Forgetfulness"] = [{"prompt": prompt, "ground_truth": edit.truth}]
    return {
        "subject": edit.subject,
        "prompt": fill(relation.phrase, edit) + " is",
        "target_new": edit.target,
        "ground_truth": edit.truth,
        "portability": portability,
        "locality": locality,
    }


def zsre_record(edit: Edit) -> dict[str, Any]:
    relation = RELATIONS[edit.relation]
    locality_relation = RELATIONS[edit.locality_relation]
    answer = [edit.locality_truth]
    return {
        "subject": edit.subject,
        "target_new": edit.target,
        "prompt": fill(relation.question, edit),
        "ground_truth": [edit.truth],
        "rephrase_prompt": fill(relation.rephrase, edit),
        "locality": {
            "Relation_Specificity": [
                {"prompt": fill(locality_relation.phrase, edit) + " is", "ground_truth": answer},
                {
                    "prompt": locality_relation.keywords.format(s=edit.subject),
                    "ground_truth": answer,
                },
            ]
        },
        "portability": {"Reasoning": [portability_probe(edit, question=True)]},
    }


def check(edits: list[Edit]) -> None:
    subjects = [e.subject.casefold() for e in edits]
    repeated = sorted({s for s in subjects if subjects.count(s) > 1})
    assert not repeated, repeated
    for edit in edits:
        assert edit.locality_relation in RELATIONS, edit
        assert edit.subject in edit.mention, edit
        assert edit.target.casefold() != edit.truth.casefold(), edit
        assert edit.locality_truth.casefold() != edit.target.casefold(), edit
        portability_probe(edit, question=True)  # a KeyError names a missing target fact
        if edit.relation == "founder":
            assert FOUNDED[edit.target] != edit.subject, edit


def deal(edits: list[Edit], sizes: tuple[int, ...]) -> list[list[Edit]]:
    """Edits shuffled within each relation, then dealt relation by relation to the hand furthest
    below its share, so every file gets a slice of every relation."""
    rng = random.Random(SEED)
    by_relation: dict[str, list[Edit]] = {}
    for edit in edits:
        by_relation.setdefault(edit.relation, []).append(edit)
    hands: list[list[Edit]] = [[] for _ in sizes]
    for relation in sorted(by_relation):
        group = by_relation[relation]
        rng.shuffle(group)
        for edit in group:
            hand = min(range(len(sizes)), key=lambda h: (len(hands[h]) + 0.5) / sizes[h])
            hands[hand].append(edit)
    for hand in hands:
        rng.shuffle(hand)
    assert [len(h) for h in hands] == list(sizes), [len(h) for h in hands]
    return hands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("python/alignkit/lte/data"))
    args = parser.parse_args()
    check(EDITS)
    needed = HELDOUT_ZSRE + TRAIN_ZSRE + TRAIN_COUNTERFACT
    assert len(EDITS) >= needed, (len(EDITS), needed)
    heldout, train_zsre, train_cf = deal(
        EDITS, (HELDOUT_ZSRE, TRAIN_ZSRE, TRAIN_COUNTERFACT, len(EDITS) - needed)
    )[:3]
    files = {
        "demo_heldout_zsre.json": [zsre_record(e) for e in heldout],
        "demo_train_zsre.json": [zsre_record(e) for e in train_zsre],
        "demo_train_counterfact.json": [
            counterfact_record(e, with_forgetfulness=i % 2 == 0) for i, e in enumerate(train_cf)
        ],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, records in files.items():
        text = json.dumps(records, indent=1, ensure_ascii=True) + "\n"
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"{name}: {len(records)} edits")
    print(f"{len(EDITS)} edits typed, {len(EDITS) - needed} left out")


if __name__ == "__main__":
    main()
