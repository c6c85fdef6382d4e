"""Order-swap and look-alike pairs over app-style questions, in English and Russian.

Issue #18: the verifier served "convert X to Y" for "convert Y to X" with P ≥ 0.999.
Public sets hold few such pairs (PAWS-Wiki's train split could not be had), so these
rules make them. Each template has two order-sensitive slots; for a draw of two values:

    negative   the same template with the slots exchanged ("from Paris to London")
    positive   a reworded template with the same slots in the same roles

Kinds (the `kind` of each pair): `from_to` (routes, transfers, migrations),
`convert` (units, currencies, file formats, languages), `compare` (order-sensitive
comparisons: "is X bigger than Y"), `subject_object` (who owes, beats, writes to
whom), `before_after`, `entities` (two places or products exchanged in another frame).

`lookalikes_ru`: one Russian template, one entity changed ("Какая столица Германии?" /
"… Франции?"), the case the coverage check let through; positives reword it.

Russian slots are filled with the case each template needs (genitive after "из",
accusative after "в", …) from the tables below, so the swapped text is grammatical.

No sentence is one of generated_pairs.py's (the verifier trained on those): templates and
numbers differ (tests/unit/evaluation checks it). Deterministic for a seed. Every pair
carries its split part: `splits.split` over the set (a question, its swap and its
rewordings are one component, so none straddles parts), or for the look-alikes the part
of the country (`russian_lookalikes`).
Pure standard library (the training venv imports it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from random import Random

from sluice.evaluation.splits import Part, part_of_text, split

Forms = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SwapPair:
    a: str
    b: str
    label: int
    kind: str
    # train / calibration / test: splits.split over the set's components (one question,
    # its swap and rewordings), or the country's part for the look-alikes.
    part: Part = "train"


@dataclass(frozen=True, slots=True)
class Template:
    kind: str
    text: str
    reworded: str
    values: str  # key of the slot table


def _plain(*names: str) -> tuple[Forms, ...]:
    """Values with one form (English words, brand names): every case is the name."""
    return tuple({"n": name} for name in names)


def _forms(spec: str, cases: str) -> tuple[Forms, ...]:
    """Russian values: one line each, its forms in the order of `cases`, '|'-separated."""
    keys = cases.split()
    out = []
    for line in spec.strip().splitlines():
        forms = [f.strip() for f in line.split("|")]
        out.append(dict(zip(keys, forms, strict=True)))
    return tuple(out)


EN_VALUES: dict[str, tuple[Forms, ...]] = {
    "city": _plain("London", "Paris", "Berlin", "Madrid", "Rome", "Boston", "Chicago", "Seattle",
                   "Denver", "Toronto", "Vienna", "Prague", "Dublin", "Lisbon", "Munich",
                   "New York", "Los Angeles", "San Francisco"),
    "account": _plain("checking", "savings", "brokerage", "business"),
    "database": _plain("MySQL", "PostgreSQL", "MongoDB", "SQLite", "Oracle", "Redis"),
    "unit": _plain("miles", "kilometers", "feet", "meters", "inches", "centimeters", "pounds",
                   "kilograms", "gallons", "liters", "ounces", "grams"),
    "currency": _plain("dollars", "euros", "pounds sterling", "yen", "rubles", "rupees",
                       "Swiss francs", "pesos"),
    "format": _plain("PDF", "Word", "JPG", "PNG", "CSV", "JSON", "XML", "YAML", "MP4", "MP3",
                     "Excel", "HTML", "Markdown"),
    "language": _plain("English", "French", "German", "Spanish", "Russian", "Italian",
                       "Japanese", "Chinese", "Portuguese"),
    "country": _plain("Canada", "Mexico", "Brazil", "Germany", "France", "Spain", "Italy",
                      "Japan", "India", "Australia", "Argentina", "Poland", "Turkey", "Norway"),
    "product": _plain("iPhone", "Pixel", "Galaxy", "MacBook", "ThinkPad", "iPad", "Kindle",
                      "PlayStation", "Xbox", "Switch"),
    "lang": _plain("Python", "Java", "Go", "Rust", "JavaScript", "Ruby", "Kotlin", "Swift"),
    "person": _plain("Alice", "Bob", "Carol", "Dave", "Maria", "John", "Priya", "Omar"),
    "team": _plain("Arsenal", "Chelsea", "Liverpool", "Barcelona", "Juventus", "Bayern",
                   "the Lakers", "the Celtics"),
    "company": _plain("Google", "YouTube", "Microsoft", "GitHub", "Amazon", "Twitch", "Meta",
                      "Instagram"),
    "software": _plain("Python", "Docker", "Git", "Node.js", "CUDA", "Homebrew", "Xcode",
                       "the JDK"),
    "platform": _plain("Android", "iPhone", "Windows", "macOS", "Linux", "ChromeOS"),
}  # fmt: skip

EN_TEMPLATES = (
    Template("from_to", "How do I get from {a} to {b} by train?",
             "What's the best way to travel from {a} to {b} by train?", "city"),
    Template("from_to", "Cheapest flight from {a} to {b} next week",
             "Find me the cheapest flights from {a} to {b} for next week", "city"),
    Template("from_to", "How long is the drive from {a} to {b}?",
             "What's the driving time from {a} to {b}?", "city"),
    Template("from_to", "How do I transfer $500 from my {a} account to my {b} account?",
             "Move $500 from my {a} account into my {b} account", "account"),
    Template("from_to", "How do I migrate my database from {a} to {b}?",
             "What's the best way to move a database from {a} to {b}?", "database"),
    Template("convert", "Convert 25 {a} to {b}", "How many {b} are in 25 {a}?", "unit"),
    Template("convert", "What is 300 {a} in {b}?", "How much is 300 {a} in {b}?", "currency"),
    Template("convert", "How do I convert a {a} file to {b}?",
             "What's the easiest way to turn a {a} file into {b}?", "format"),
    Template("convert", "Translate this paragraph from {a} into {b}",
             "Can you translate this paragraph from {a} to {b}?", "language"),
    Template("compare", "Is {a} bigger than {b}?", "Is {a} larger than {b}?", "country"),
    Template("compare", "Why is the {a} more expensive than the {b}?",
             "Why does the {a} cost more than the {b}?", "product"),
    Template("compare", "Is {a} faster than {b} for web servers?",
             "Does {a} run faster than {b} for web servers?", "lang"),
    Template("subject_object", "How much does {a} owe {b}?",
             "What amount does {a} owe {b}?", "person"),
    Template("subject_object", "Did {a} beat {b} in the final?",
             "Did {a} win against {b} in the final?", "team"),
    Template("subject_object", "Write an email from {a} to {b} about the budget meeting",
             "Draft an email from {a} to {b} about the budget meeting", "person"),
    Template("subject_object", "Does {a} own {b}?", "Is {b} owned by {a}?", "company"),
    Template("before_after", "Should I install {a} before {b}?",
             "Do I need to install {a} before {b}?", "software"),
    Template("before_after", "Was the {a} released before the {b}?",
             "Did the {a} come out before the {b}?", "product"),
    Template("entities", "What time is it in {a} when it's 9 am in {b}?",
             "When it's 9 am in {b}, what time is it in {a}?", "city"),
    Template("entities", "How do I switch from {a} to {b}?",
             "What do I need to do to move from {a} to {b}?", "platform"),
)  # fmt: skip

# Russian slot tables: the cases each template uses (nom, gen, acc, dat, prep; pl = plural).
RU_VALUES: dict[str, tuple[Forms, ...]] = {
    "city": _forms("""
        Москва | Москвы | Москву | Москве
        Берлин | Берлина | Берлин | Берлине
        Париж | Парижа | Париж | Париже
        Лондон | Лондона | Лондон | Лондоне
        Рим | Рима | Рим | Риме
        Мадрид | Мадрида | Мадрид | Мадриде
        Казань | Казани | Казань | Казани
        Новосибирск | Новосибирска | Новосибирск | Новосибирске
        Прага | Праги | Прагу | Праге
        Вена | Вены | Вену | Вене
        Екатеринбург | Екатеринбурга | Екатеринбург | Екатеринбурге
        Минск | Минска | Минск | Минске
        Самара | Самары | Самару | Самаре
        Стамбул | Стамбула | Стамбул | Стамбуле
    """, "nom gen acc prep"),
    "account": _forms("""
        текущий | текущего
        накопительный | накопительного
        кредитный | кредитного
        брокерский | брокерского
        валютный | валютного
    """, "acc gen"),
    "database": _plain("MySQL", "PostgreSQL", "MongoDB", "SQLite", "Oracle", "Redis"),
    "unit": _forms("""
        миль | милях | мили
        километров | километрах | километры
        футов | футах | футы
        метров | метрах | метры
        дюймов | дюймах | дюймы
        сантиметров | сантиметрах | сантиметры
        литров | литрах | литры
        галлонов | галлонах | галлоны
        килограммов | килограммах | килограммы
        граммов | граммах | граммы
        часов | часах | часы
        минут | минутах | минуты
    """, "gen_pl prep_pl acc_pl"),
    "currency": _forms("""
        долларов | долларах | доллары
        рублей | рублях | рубли
        евро | евро | евро
        фунтов | фунтах | фунты
        иен | иенах | иены
        юаней | юанях | юани
        тенге | тенге | тенге
        франков | франках | франки
        лир | лирах | лиры
    """, "gen_pl prep_pl acc_pl"),
    "format": _plain("PDF", "Word", "JPG", "PNG", "CSV", "JSON", "XML", "YAML", "MP4", "MP3",
                     "Excel", "HTML"),
    "language": _forms("""
        английского | английский
        русского | русский
        немецкого | немецкий
        французского | французский
        испанского | испанский
        китайского | китайский
        итальянского | итальянский
        японского | японский
    """, "gen acc"),
    "country": _forms("""
        Канада | Канады
        Китай | Китая
        Бразилия | Бразилии
        Германия | Германии
        Франция | Франции
        Испания | Испании
        Италия | Италии
        Япония | Японии
        Индия | Индии
        Австралия | Австралии
        Аргентина | Аргентины
        Польша | Польши
        Турция | Турции
        Норвегия | Норвегии
    """, "nom gen"),
    "product": _plain("iPhone", "Pixel", "Galaxy", "MacBook", "ThinkPad", "iPad", "Kindle",
                      "PlayStation", "Xbox"),
    "lang": _plain("Python", "Java", "Go", "Rust", "JavaScript", "Ruby", "Kotlin", "Swift"),
    "person": _forms("""
        Иван | Ивану | Ивана
        Пётр | Петру | Петра
        Алексей | Алексею | Алексея
        Сергей | Сергею | Сергея
        Дмитрий | Дмитрию | Дмитрия
        Михаил | Михаилу | Михаила
        Олег | Олегу | Олега
        Андрей | Андрею | Андрея
    """, "nom dat gen"),
    "team": _plain("Спартак", "Зенит", "ЦСКА", "Локомотив", "Динамо", "Рубин", "Краснодар",
                   "Ростов"),
    "software": _plain("Python", "Docker", "Git", "Node.js", "CUDA", "Homebrew", "Xcode", "JDK"),
    "platform": _plain("Android", "iPhone", "Windows", "macOS", "Linux"),
}  # fmt: skip

RU_TEMPLATES = (
    Template("from_to", "Как доехать из {a[gen]} в {b[acc]} на поезде?",
             "Как добраться на поезде из {a[gen]} в {b[acc]}?", "city"),
    Template("from_to", "Самый дешёвый билет из {a[gen]} в {b[acc]} на следующей неделе",
             "Найди самые дешёвые билеты из {a[gen]} в {b[acc]} на следующую неделю", "city"),
    Template("from_to", "Сколько ехать на машине из {a[gen]} в {b[acc]}?",
             "Сколько времени занимает дорога на машине из {a[gen]} в {b[acc]}?", "city"),
    Template("from_to", "Как перевести 5000 рублей с {a[gen]} счёта на {b[acc]} счёт?",
             "Как перекинуть 5000 рублей с {a[gen]} счёта на {b[acc]}?", "account"),
    Template("from_to", "Как перенести базу данных с {a[n]} на {b[n]}?",
             "Как мигрировать базу данных с {a[n]} на {b[n]}?", "database"),
    Template("convert", "Переведи 25 {a[gen_pl]} в {b[acc_pl]}",
             "Сколько {b[gen_pl]} в 25 {a[prep_pl]}?", "unit"),
    Template("convert", "Сколько будет 100 {a[gen_pl]} в {b[prep_pl]}?",
             "Переведи 100 {a[gen_pl]} в {b[acc_pl]}", "currency"),
    Template("convert", "Как конвертировать файл {a[n]} в {b[n]}?",
             "Как преобразовать файл {a[n]} в формат {b[n]}?", "format"),
    Template("convert", "Переведи этот абзац с {a[gen]} на {b[acc]}",
             "Сделай перевод этого абзаца с {a[gen]} на {b[acc]}", "language"),
    Template("compare", "Правда ли, что {a[nom]} больше {b[gen]}?",
             "Верно ли, что {a[nom]} по площади больше {b[gen]}?", "country"),
    Template("compare", "Почему {a[n]} дороже {b[n]}?",
             "Почему {a[n]} стоит дороже, чем {b[n]}?", "product"),
    Template("compare", "Правда ли, что {a[n]} быстрее {b[n]} для веб-серверов?",
             "Верно ли, что {a[n]} работает быстрее {b[n]} на веб-серверах?", "lang"),
    Template("subject_object", "Сколько {a[nom]} должен {b[dat]}?",
             "Какую сумму {a[nom]} должен {b[dat]}?", "person"),
    Template("subject_object", "Обыграл ли {a[n]} {b[n]} в финале?",
             "Победил ли {a[n]} {b[n]} в финале?", "team"),
    Template("subject_object", "Напиши письмо от {a[gen]} к {b[dat]} о совещании по бюджету",
             "Составь письмо от {a[gen]} к {b[dat]} про совещание по бюджету", "person"),
    Template("before_after", "Нужно ли установить {a[n]} до {b[n]}?",
             "Надо ли ставить {a[n]} до {b[n]}?", "software"),
    Template("before_after", "{a[n]} вышел раньше, чем {b[n]}?",
             "Правда ли, что {a[n]} вышел раньше {b[n]}?", "product"),
    Template("entities", "Сколько времени в {a[prep]}, когда в {b[prep]} 9 утра?",
             "Который час в {a[prep]}, если в {b[prep]} 9 утра?", "city"),
    Template("entities", "Как перейти с {a[n]} на {b[n]}?",
             "Что нужно сделать, чтобы перейти с {a[n]} на {b[n]}?", "platform"),
)  # fmt: skip

# One slot, one entity changed: the Germany/France case of issue #18.
RU_LOOKALIKE_VALUES = _forms("""
    Германия | Германии | Германию
    Франция | Франции | Францию
    Италия | Италии | Италию
    Испания | Испании | Испанию
    Япония | Японии | Японию
    Канада | Канады | Канаду
    Польша | Польши | Польшу
    Бразилия | Бразилии | Бразилию
    Турция | Турции | Турцию
    Финляндия | Финляндии | Финляндию
    Норвегия | Норвегии | Норвегию
    Мексика | Мексики | Мексику
    Аргентина | Аргентины | Аргентину
    Индия | Индии | Индию
    Греция | Греции | Грецию
    Швеция | Швеции | Швецию
    Австрия | Австрии | Австрию
    Бельгия | Бельгии | Бельгию
    Чехия | Чехии | Чехию
    Венгрия | Венгрии | Венгрию
    Португалия | Португалии | Португалию
    Ирландия | Ирландии | Ирландию
    Дания | Дании | Данию
    Хорватия | Хорватии | Хорватию
    Сербия | Сербии | Сербию
    Болгария | Болгарии | Болгарию
    Румыния | Румынии | Румынию
    Грузия | Грузии | Грузию
    Армения | Армении | Армению
    Англия | Англии | Англию
    Шотландия | Шотландии | Шотландию
    Австралия | Австралии | Австралию
    Индонезия | Индонезии | Индонезию
    Малайзия | Малайзии | Малайзию
    Колумбия | Колумбии | Колумбию
    Боливия | Боливии | Боливию
    Нигерия | Нигерии | Нигерию
    Кения | Кении | Кению
    Эстония | Эстонии | Эстонию
    Латвия | Латвии | Латвию
    Литва | Литвы | Литву
    Куба | Кубы | Кубу
    Корея | Кореи | Корею
    Монголия | Монголии | Монголию
    Тунис | Туниса | Тунис
    Египет | Египта | Египет
    Марокко | Марокко | Марокко
    Перу | Перу | Перу
""", "nom gen acc")  # fmt: skip
RU_LOOKALIKE_TEMPLATES = (
    ("Какая столица {c[gen]}?", "Какой город является столицей {c[gen]}?"),
    ("Нужна ли виза для поездки в {c[acc]}?", "Нужна ли мне виза, чтобы поехать в {c[acc]}?"),
    ("Какая валюта у {c[gen]}?", "Какие деньги в ходу у {c[gen]}?"),
    ("Сколько человек живёт на территории {c[gen]}?", "Какое население у {c[gen]}?"),
    ("Какой государственный язык у {c[gen]}?", "На каком языке официально говорят у {c[gen]}?"),
    ("Когда лучше всего ехать в {c[acc]} в отпуск?",
     "В какое время года лучше поехать в отпуск в {c[acc]}?"),
)  # fmt: skip


def swaps(
    name: str,
    templates: Sequence[Template],
    values: Mapping[str, Sequence[Forms]],
    draws: int = 300,
    seed: int = 0,
) -> list[SwapPair]:
    """For each template, `draws` pairs of values: the swap (0) and the rewording (1)."""
    rng = Random(seed)  # noqa: S311 - data generation, not security
    out: dict[tuple[str, str], SwapPair] = {}
    for template in templates:
        table = values[template.values]
        for _ in range(draws):
            a, b = rng.sample(list(table), 2)
            base = template.text.format(a=a, b=b)
            swapped = template.text.format(a=b, b=a)
            reworded = template.reworded.format(a=a, b=b)
            for text, label in ((swapped, 0), (reworded, 1)):
                if text != base:
                    out.setdefault((base, text), SwapPair(base, text, label, template.kind))
    pairs = list(out.values())
    return [replace(p, part=part) for p, part in zip(pairs, split(name, pairs), strict=True)]


def english(draws: int = 300, seed: int = 0) -> list[SwapPair]:
    """The English swap pairs (`swaps_en`)."""
    templates = tuple(
        Template(t.kind, t.text.replace("{a}", "{a[n]}").replace("{b}", "{b[n]}"),
                 t.reworded.replace("{a}", "{a[n]}").replace("{b}", "{b[n]}"), t.values)
        for t in EN_TEMPLATES
    )  # fmt: skip
    return swaps("swaps_en", templates, EN_VALUES, draws, seed)


def russian(draws: int = 300, seed: int = 0) -> list[SwapPair]:
    """The Russian swap pairs (`swaps_ru`)."""
    return swaps("swaps_ru", RU_TEMPLATES, RU_VALUES, draws, seed)


def russian_lookalikes(seed: int = 0) -> list[SwapPair]:
    """One country changed (0) or the template reworded (1) (`lookalikes_ru`).

    Every country's sentences would link every other's into one component, so the split
    is by country instead (`part_of`: splits.part_of_text of its name) and a negative
    pairs two countries of one part: no sentence of a held-out country reaches training.
    """
    rng = Random(seed)  # noqa: S311 - data generation, not security
    out: dict[tuple[str, str], SwapPair] = {}
    for text, reworded in RU_LOOKALIKE_TEMPLATES:
        for c in RU_LOOKALIKE_VALUES:
            same_part = [d for d in RU_LOOKALIKE_VALUES
                         if d is not c and part_of(d) == part_of(c)]  # fmt: skip
            base, part = text.format(c=c), part_of(c)
            pairs = [(reworded.format(c=c), 1)]
            pairs += [(text.format(c=d), 0) for d in rng.sample(same_part, min(3, len(same_part)))]
            for other, label in pairs:
                out.setdefault((base, other), SwapPair(base, other, label, "lookalike", part))
    return list(out.values())


def part_of(country: Forms) -> Part:
    """The split part of a look-alike country, from its name."""
    return part_of_text("lookalikes_ru", country["nom"])
