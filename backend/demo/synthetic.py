"""A synthetic district at the real scale of Tongguanshan, for demos, load tests and benchmarks.

Deterministic: the same seed and day give the same communities, grids, addresses, names and ID
numbers. Planning (pure Python, no database) is separate from loading (bulk inserts), so the plan
can be checked without a database and the load stays fast: the full district — 18 communities,
359 grids, ~107,000 households, ~300,000 residents — loads in about a minute on PostGIS (2 cores).

Community k of a smaller load is the same as community k of the full load.

A city is several such districts side by side (`district=1..MAX_DISTRICTS`; bench/city.py): district
1 is Tongguanshan as above, district k > 1 a copy of its layout further east with a code, a name,
log-in numbers and people of its own (district 1 is unchanged by the parameter).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import reset_queries, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from backend.accounts.models import (
    BusinessLine,
    BusinessLineAssignment,
    DutyShift,
    GridAssignment,
    Role,
    User,
)
from backend.people.actions import build_resident
from backend.people.idnumbers import check_digit
from backend.people.models import CareTag, EmergencyContact, LegalBasis, Resident, ResidentTag
from backend.territory.models import Building, Community, District, Grid, Household, ServicePoint

DISTRICT_CODE = "340705"
DISTRICT_NAME = "铜官区"
FULL_COMMUNITIES = 18
SHORT_COMMUNITY = FULL_COMMUNITIES - 1  # the last community has 19 grids: 17 x 20 + 19 = 359
BATCH = 2000
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DUTY_HOURS = (8, 20)

# A ~6 km x 6 km box around 117.81 E, 30.93 N (36 km²): 6 x 3 communities of 1 km x 2 km,
# each cut into 4 x 5 grids of about 250 m x 400 m.
WEST, EAST = 117.7786, 117.8414
SOUTH, NORTH = 30.9030, 30.9570
COMMUNITY_COLUMNS, COMMUNITY_ROWS = 6, 3
GRID_COLUMNS, GRID_ROWS = 4, 5
EDGE_MARGIN = 0.0001  # about 10 m: points stay well inside their grid
MAX_DISTRICTS = 10  # log-in numbers have one digit for the district (staff_phone)
DISTRICT_GAP = 0.01  # degrees of longitude between two districts of a city


def district_code(district: int = 1) -> str:
    """Tongguanshan's code for district 1; made-up codes of the same province for the rest."""
    return DISTRICT_CODE if district == 1 else f"3407{50 + district:02d}"


def district_name(district: int = 1) -> str:
    return DISTRICT_NAME if district == 1 else f"模拟第{district}区"


COMMUNITY_NAMES = (
    "幸福社区", "长江社区", "天井湖社区", "五松社区", "朝阳社区", "金口岭社区",
    "五里社区", "新城社区", "友好社区", "西湖社区", "杨家山社区", "笔架山社区",
    "螺蛳山社区", "石城社区", "露采社区", "铜山社区", "阳光社区", "东郊社区",
)  # fmt: skip
ROADS = (
    "长江西路", "长江中路", "长江东路", "义安大道", "石城路", "北京西路", "北京东路",
    "淮河路", "铜都大道", "笔架山路", "人民路", "友好路", "螺蛳山路", "建设西路",
    "建设东路", "金山西路", "金山东路", "天井湖路", "五松路", "杨家山路", "滨江大道",
    "翠湖一路", "翠湖二路", "湖城大道", "新村路", "露采路",
)  # fmt: skip
# (surname, relative frequency): national order, with the Anhui favourites (汪, 程, 方, 章) lifted.
SURNAMES = (
    ("王", 71), ("李", 70), ("张", 67), ("刘", 54), ("陈", 45), ("杨", 31), ("黄", 22), ("赵", 21),
    ("吴", 22), ("周", 19), ("徐", 17), ("孙", 15), ("马", 14), ("朱", 13), ("胡", 14), ("郭", 11),
    ("何", 11), ("高", 11), ("林", 10), ("汪", 14), ("程", 9), ("方", 9), ("章", 6), ("许", 8),
    ("谢", 8), ("韩", 7), ("唐", 7), ("冯", 7), ("曹", 7), ("彭", 6), ("曾", 6), ("袁", 6),
    ("江", 5), ("叶", 5), ("沈", 5), ("潘", 5), ("蒋", 5), ("丁", 5), ("魏", 5), ("余", 5),
    ("钱", 4), ("姚", 4), ("陶", 3), ("葛", 3), ("储", 3), ("檀", 1),
)  # fmt: skip
# Given names by birth cohort and gender: (born before, male names, female names).
GIVEN_NAMES: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        1960,
        (
            "建国", "国强", "德明", "志刚", "长生", "福生", "开明", "庆华", "宝山", "金生",
            "永福", "家明", "春生", "树林", "国华", "玉山", "有才", "根生", "德胜", "振华",
        ),
        (
            "桂英", "秀兰", "玉兰", "秀英", "凤英", "桂兰", "淑珍", "玉珍", "翠兰", "素芬",
            "金凤", "月娥", "兰英", "秀珍", "桂芳", "玉梅", "美华", "春花", "冬梅", "彩霞",
        ),
    ),
    (
        1980,
        (
            "建华", "卫东", "志强", "建军", "国庆", "海涛", "晓东", "立新", "军", "伟",
            "勇", "斌", "明", "刚", "平", "杰", "红兵", "文斌", "永强", "正华",
        ),
        (
            "丽华", "红梅", "秀梅", "小红", "丽", "芳", "红", "燕", "霞", "敏",
            "萍", "静", "慧", "晓红", "海燕", "春燕", "玉红", "丽萍", "金花", "美玲",
        ),
    ),
    (
        2000,
        (
            "浩", "磊", "鹏", "涛", "超", "俊杰", "文博", "宇", "晨", "亮",
            "鑫", "家豪", "志鹏", "明轩", "子龙", "帅", "凯", "阳", "伟杰", "俊",
        ),
        (
            "婷婷", "倩", "雪", "丹丹", "佳", "静怡", "晓雯", "莉", "欣", "璐",
            "颖", "瑶", "梦瑶", "思琪", "慧敏", "甜甜", "娜", "蕾", "洁", "月",
        ),
    ),
    (
        9999,
        (
            "子轩", "浩然", "宇轩", "梓豪", "俊熙", "沐辰", "皓轩", "博文", "天佑", "睿",
            "铭泽", "子墨", "宸", "奕辰", "锦程", "逸飞", "思远", "泽宇", "一诺", "嘉懿",
        ),
        (
            "梓涵", "欣怡", "诗涵", "子涵", "一诺", "雨萱", "可馨", "梦琪", "若汐", "语桐",
            "紫萱", "佳怡", "思彤", "芷若", "安琪", "悦", "朵朵", "依诺", "雨桐", "欣妍",
        ),
    ),
)  # fmt: skip
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "176", "177", "180", "181", "182", "183",
    "185", "186", "187", "188", "189",
)  # fmt: skip
CHRONIC_CONDITIONS = ("高血压", "糖尿病", "冠心病", "慢性阻塞性肺病", "脑梗后遗症", "骨关节炎")
DISABILITY_KINDS = ("肢体", "视力", "听力", "言语", "智力", "精神")
WORKER_LINES = tuple(BusinessLine)
OFFICER_LINES = (
    (BusinessLine.ELDERLY_CARE, BusinessLine.HEALTH, BusinessLine.DISABILITY),
    (
        BusinessLine.CIVIL_AFFAIRS,
        BusinessLine.SOCIAL_SECURITY,
        BusinessLine.HOUSING,
        BusinessLine.EMPLOYMENT,
    ),
)

Rect = tuple[float, float, float, float]  # west, south, east, north


class SyntheticError(Exception):
    """The synthetic district cannot be loaded into this database (it is already there)."""


# --- staff phone numbers: 1990 + community (00 = district) + role digit + 4-digit number ------

_ROLE_DIGIT = {
    Role.WORKER: 1,
    Role.SUPERVISOR: 2,
    Role.OFFICER: 3,
    Role.RESIDENT: 8,
    Role.DISTRICT_ADMIN: 9,
}


def staff_phone(role: str, community_no: int = 0, number: int = 1, district: int = 1) -> str:
    """Deterministic, unique log-in numbers: the worker of grid 3 in community 1 is 19900110003
    (in district 2 of a city, 19910110003)."""
    return f"199{district - 1}{community_no:02d}{_ROLE_DIGIT[Role(role)]}{number:04d}"


def community_code(district_code: str, community_no: int) -> str:
    return f"{district_code}-C{community_no:02d}"


def grid_code(district_code: str, community_no: int, grid_no: int) -> str:
    return f"{community_code(district_code, community_no)}-G{grid_no:02d}"


# --- the plan: plain data, no database ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactPlan:
    name: str
    relation: str
    phone: str


@dataclass(slots=True)
class ResidentPlan:
    name: str
    gender: str
    birth_date: date
    age: int
    id_number: str
    phone: str
    tags: tuple[str, ...]
    contact: ContactPlan | None
    health_notes: str


@dataclass(slots=True)
class HouseholdPlan:
    address: str
    lon: float
    lat: float
    residents: list[ResidentPlan]


@dataclass(slots=True)
class BuildingPlan:
    name: str
    lon: float
    lat: float
    households: list[HouseholdPlan]


@dataclass(slots=True)
class GridPlan:
    code: str
    name: str
    rect: Rect
    buildings: list[BuildingPlan]


@dataclass(frozen=True, slots=True)
class StaffPlan:
    phone: str
    name: str
    role: str
    grid_code: str | None = None
    lines: tuple[str, ...] = ()


@dataclass(slots=True)
class CommunityPlan:
    number: int  # 1-based
    code: str
    name: str
    rect: Rect
    grids: list[GridPlan]
    staff: list[StaffPlan]

    def households(self) -> Iterator[tuple[GridPlan, BuildingPlan, HouseholdPlan]]:
        for grid in self.grids:
            for building in grid.buildings:
                for household in building.households:
                    yield grid, building, household


@dataclass
class _Shared:
    """State that runs across communities in order: ID serials and house numbers per road."""

    id_serials: dict[tuple[date, str], int] = field(default_factory=dict)
    road_numbers: dict[str, int] = field(default_factory=dict)
    region: str = DISTRICT_CODE  # the first six digits of the ID numbers

    def id_number(self, birth_date: date, gender: str) -> str:
        # GB 11643: the 17th digit (last of the 3-digit sequence) is odd for men, even for women.
        key = (birth_date, gender)
        k = self.id_serials.get(key, 0)
        if k >= 500:
            raise SyntheticError(f"more than 500 residents of one gender born on {birth_date}")
        self.id_serials[key] = k + 1
        # Start each day's sequence somewhere in 000-998 (even) so they do not all read 001;
        # base + 2k stays distinct modulo 1000 for k < 500.
        base = (birth_date.toordinal() * 374) % 1000 // 2 * 2
        sequence = (base + 2 * k) % 1000 + (1 if gender == Resident.Gender.MALE else 0)
        first17 = f"{self.region}{birth_date:%Y%m%d}{sequence:03d}"
        return first17 + check_digit(first17)

    def house_number(self, rng: random.Random, road: str) -> int:
        number = self.road_numbers.get(road, rng.choice((1, 2))) + 2 * rng.randint(1, 3)
        self.road_numbers[road] = number
        return number


@dataclass(slots=True)
class _Member:
    gender: str
    age: int
    surname: str
    # set on a member whose emergency contact is another member of the household
    carer: _Member | None = None
    carer_relation: str = ""
    name: str = ""
    phone: str = ""


def _rect(west: float, south: float, east: float, north: float) -> Rect:
    return (round(west, 7), round(south, 7), round(east, 7), round(north, 7))


def community_rect(number: int, district: int = 1) -> Rect:
    index = number - 1
    row, col = divmod(index, COMMUNITY_COLUMNS)
    dx = (EAST - WEST) / COMMUNITY_COLUMNS
    dy = (NORTH - SOUTH) / COMMUNITY_ROWS
    w = WEST + (district - 1) * (EAST - WEST + DISTRICT_GAP)
    return _rect(w + col * dx, NORTH - (row + 1) * dy, w + (col + 1) * dx, NORTH - row * dy)


def grid_rects(number: int, district: int = 1) -> list[Rect]:
    """Grid cells row by row from the north-west; the short community merges its last two."""
    west, south, east, north = community_rect(number, district)
    dx = (east - west) / GRID_COLUMNS
    dy = (north - south) / GRID_ROWS
    cells = []
    for row in range(GRID_ROWS):
        for col in range(GRID_COLUMNS):
            cells.append(
                _rect(
                    west + col * dx, north - (row + 1) * dy, west + (col + 1) * dx, north - row * dy
                )
            )
    if number - 1 == SHORT_COMMUNITY:
        a, b = cells[-2], cells[-1]
        cells[-2:] = [(a[0], a[1], b[2], b[3])]
    return cells


def boundary(rect: Rect) -> MultiPolygon:
    west, south, east, north = rect
    ring = ((west, south), (east, south), (east, north), (west, north), (west, south))
    return MultiPolygon(Polygon(ring), srid=4326)


class _People:
    """Names, ages and phones drawn from one community's random stream."""

    _surnames = tuple(s for s, _ in SURNAMES)
    _cum_weights = tuple(sum(w for _, w in SURNAMES[: i + 1]) for i in range(len(SURNAMES)))

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.as_of = as_of

    def surname(self) -> str:
        return self.rng.choices(self._surnames, cum_weights=self._cum_weights)[0]

    def given(self, gender: str, age: int) -> str:
        born = self.as_of.year - age
        for before, male, female in GIVEN_NAMES:
            if born < before:
                return self.rng.choice(male if gender == Resident.Gender.MALE else female)
        raise AssertionError("unreachable")

    def mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def landline(self) -> str:
        # Tongling numbers: area code 0562, seven digits.
        return f"0562-{self.rng.choice('2358')}{self.rng.randrange(10**6):06d}"

    def elderly_age(self, older: bool) -> int:
        """60+: living alone skews older (widowhood)."""
        rng = self.rng
        bands = ((60, 69), (70, 79), (80, 89), (90, 99))
        weights = (0.24, 0.40, 0.29, 0.07) if older else (0.48, 0.34, 0.16, 0.02)
        low, high = rng.choices(bands, weights)[0]
        return rng.randint(low, high)

    def gender(self, female_share: float = 0.5) -> str:
        female = self.rng.random() < female_share
        return Resident.Gender.FEMALE if female else Resident.Gender.MALE

    def birth_date(self, age: int) -> date:
        """A birth date that makes `age` exact on `as_of` (the draw does not depend on the day)."""
        days = self.rng.randrange(365)
        year = self.as_of.year - age
        try:
            anniversary = self.as_of.replace(year=year)
        except ValueError:  # 29 February
            anniversary = self.as_of.replace(year=year, day=28)
        return anniversary - timedelta(days=days)


def _couple(people: _People, husband_age: int, *, min_wife_age: int = 0) -> list[_Member]:
    rng = people.rng
    wife_age = max(min_wife_age, min(100, husband_age - rng.randint(-2, 5)))
    return [
        _Member(Resident.Gender.MALE, husband_age, people.surname()),
        _Member(Resident.Gender.FEMALE, wife_age, people.surname()),
    ]


def _child(people: _People, parents: list[_Member], age: int) -> _Member:
    father = next((p for p in parents if p.gender == Resident.Gender.MALE), parents[0])
    surname = father.surname if people.rng.random() < 0.92 else parents[-1].surname
    return _Member(people.gender(), max(0, age), surname)


def _son_or_daughter(member: _Member) -> str:
    return "儿子" if member.gender == Resident.Gender.MALE else "女儿"


def _household_members(people: _People) -> list[_Member]:
    """One household (1-5 people, mean ~2.8) with ages that make sense together."""
    rng = people.rng
    size = rng.choices((1, 2, 3, 4, 5), (0.14, 0.30, 0.30, 0.14, 0.12))[0]
    kind = rng.random()
    if size == 1:
        if kind < 0.58:  # an elderly person living alone, more often a widow
            return [_Member(people.gender(0.65), people.elderly_age(older=True), people.surname())]
        age = rng.randint(20, 35) if rng.random() < 0.6 else rng.randint(36, 59)
        return [_Member(people.gender(), age, people.surname())]
    if size == 2:
        if kind < 0.40:  # elderly couple: empty nest
            return _couple(people, people.elderly_age(older=False), min_wife_age=60)
        if kind < 0.65:
            return _couple(people, rng.randint(45, 59))
        if kind < 0.82:
            return _couple(people, rng.randint(23, 40))
        if kind < 0.92:  # single parent and child
            parent = _Member(people.gender(0.75), rng.randint(30, 52), people.surname())
            return [parent, _child(people, [parent], parent.age - rng.randint(22, 34))]
        # an elderly parent and the adult child who looks after them
        parent = _Member(people.gender(0.7), people.elderly_age(older=True), people.surname())
        child = _child(people, [parent], min(59, parent.age - rng.randint(24, 34)))
        parent.carer, parent.carer_relation = child, _son_or_daughter(child)
        return [parent, child]
    if size == 3:
        if kind < 0.88:  # couple and child
            child_age = rng.randint(0, 30)
            parents = _couple(people, 0)
            parents[1].age = min(70, child_age + rng.randint(22, 34))
            parents[0].age = min(72, parents[1].age + rng.randint(-1, 4))
            child = _child(people, parents, child_age)
            for parent in parents:
                if parent.age >= 60 and child.age >= 18:
                    parent.carer, parent.carer_relation = child, _son_or_daughter(child)
            return [*parents, child]
        parents = _couple(people, rng.randint(62, 82), min_wife_age=60)
        child = _child(people, parents, min(59, parents[1].age - rng.randint(25, 35)))
        for parent in parents:
            parent.carer, parent.carer_relation = child, _son_or_daughter(child)
        return [*parents, child]
    child_age = rng.randint(0, 20)
    parents = _couple(people, 0)
    parents[1].age = child_age + rng.randint(22, 34)
    parents[0].age = parents[1].age + rng.randint(-1, 4)
    children = [_child(people, parents, child_age)]
    if size == 4 and kind < 0.4:  # two children
        return [*parents, *children, _child(people, parents, child_age - rng.randint(1, 8))]
    if size == 4:  # one grandparent moved in, on the father's or the mother's side
        via = parents[0] if rng.random() < 0.6 else parents[1]
        gender = people.gender(0.65)
        surname = via.surname if gender == Resident.Gender.MALE else people.surname()
        age = min(99, via.age + rng.randint(22, 34))
        grandparent = _Member(gender, age, surname, carer=via, carer_relation=_son_or_daughter(via))
        return [*parents, *children, grandparent]
    # three generations: the father's parents live with the family
    father = parents[0]
    grandfather = _Member(
        Resident.Gender.MALE, min(99, father.age + rng.randint(22, 32)), father.surname
    )
    grandmother = _Member(
        Resident.Gender.FEMALE,
        max(grandfather.age - rng.randint(-1, 4), father.age + 20),
        people.surname(),
    )
    for grandparent in (grandfather, grandmother):
        grandparent.carer, grandparent.carer_relation = father, "儿子"
    return [*parents, *children, grandfather, grandmother]


def _plan_residents(
    people: _People, shared: _Shared, members: list[_Member], low_income: bool
) -> list[ResidentPlan]:
    rng = people.rng
    for member in members:
        member.name = member.surname + people.given(member.gender, member.age)
        if member.age < 16:
            member.phone = ""
        elif member.age >= 80:
            member.phone = people.landline() if rng.random() < 0.5 else people.mobile()
        elif member.age >= 60:
            member.phone = people.landline() if rng.random() < 0.15 else people.mobile()
        else:
            member.phone = people.mobile()
    elderly_couple = len(members) == 2 and all(m.age >= 60 for m in members)
    outside_child: ContactPlan | None = None
    plans = []
    for member in members:
        age = member.age
        tags: list[str] = []
        notes: list[str] = []
        contact: ContactPlan | None = None
        if age >= 60:
            tags.append(CareTag.AGED_60)
            if age >= 80:
                tags.append(CareTag.AGED_80)
            if len(members) == 1:
                tags.append(CareTag.LIVING_ALONE)
            if elderly_couple:
                tags.append(CareTag.EMPTY_NEST)
            if rng.random() < 0.24 + 0.006 * (age - 60):
                tags.append(CareTag.CHRONIC_ILLNESS)
                notes.append("、".join(rng.sample(CHRONIC_CONDITIONS, rng.choice((1, 1, 2)))))
            if member.gender == Resident.Gender.MALE and rng.random() < 0.03:
                tags.append(CareTag.VETERAN)
            if member.carer is not None and member.carer.age >= 18:
                carer = member.carer
                contact = ContactPlan(carer.name, member.carer_relation, carer.phone)
            else:
                if outside_child is None:
                    relation = rng.choices(("儿子", "女儿", "侄子", "侄女"), (45, 40, 8, 7))[0]
                    male = relation in ("儿子", "侄子")
                    father = next((m for m in members if m.gender == Resident.Gender.MALE), None)
                    surname = father.surname if father else people.surname()  # a widow's child
                    gender = Resident.Gender.MALE if male else Resident.Gender.FEMALE
                    name = surname + people.given(gender, max(20, age - 28))
                    outside_child = ContactPlan(name, relation, people.mobile())
                contact = outside_child
        if rng.random() < (0.05 if age >= 60 else 0.01):
            tags.append(CareTag.DISABLED)
            kind = rng.choice(DISABILITY_KINDS)
            notes.append(f"持残疾证（{kind}{rng.choice('一二三四')}级）")
        if low_income:
            tags.append(CareTag.LOW_INCOME)
        birth_date = people.birth_date(age)
        plans.append(
            ResidentPlan(
                name=member.name,
                gender=member.gender,
                birth_date=birth_date,
                age=age,
                id_number=shared.id_number(birth_date, member.gender),
                phone=member.phone,
                tags=tuple(tags),
                contact=contact,
                health_notes="；".join(notes),
            )
        )
    return plans


def _plan_grid(
    people: _People,
    shared: _Shared,
    code: str,
    name: str,
    rect: Rect,
    road: str,
    place: str = DISTRICT_NAME,
) -> GridPlan:
    rng = people.rng
    target = rng.randint(270, 330)
    # Walk-up blocks: units x floors x 2 flats = 10-30 flats; ~8% of flats stand empty.
    layouts = ((1, 5), (1, 6), (1, 7), (2, 5), (2, 6), (2, 7), (3, 5))
    blocks: list[tuple[str, tuple[int, int]]] = []
    capacity = 0
    while capacity < target / 0.92:
        number = shared.house_number(rng, road)
        for block in range(1, rng.randint(2, 6) + 1):
            units, floors = rng.choice(layouts)
            blocks.append((f"{road}{number}号{block}栋", (units, floors)))
            capacity += units * floors * 2
    flats = [
        (b, unit, floor, room)
        for b, (_, (units, floors)) in enumerate(blocks)
        for unit in range(1, units + 1)
        for floor in range(1, floors + 1)
        for room in (1, 2)
    ]
    occupied = sorted(rng.sample(flats, target))
    west, south, east, north = rect
    buildings: list[BuildingPlan] = []
    by_block: dict[int, BuildingPlan] = {}
    for b, unit, floor, room in occupied:
        building = by_block.get(b)
        if building is None:
            lon = rng.uniform(west + 2 * EDGE_MARGIN, east - 2 * EDGE_MARGIN)
            lat = rng.uniform(south + 2 * EDGE_MARGIN, north - 2 * EDGE_MARGIN)
            building = BuildingPlan(blocks[b][0], round(lon, 6), round(lat, 6), [])
            by_block[b] = building
            buildings.append(building)
        lon = min(
            max(building.lon + rng.uniform(-5e-5, 5e-5), west + EDGE_MARGIN), east - EDGE_MARGIN
        )
        lat = min(
            max(building.lat + rng.uniform(-5e-5, 5e-5), south + EDGE_MARGIN), north - EDGE_MARGIN
        )
        members = _household_members(people)
        residents = _plan_residents(people, shared, members, low_income=rng.random() < 0.03)
        address = f"{place}{building.name}{unit}单元{floor}{room:02d}室"
        building.households.append(HouseholdPlan(address, round(lon, 7), round(lat, 7), residents))
    return GridPlan(code, name, rect, buildings)


def _plan_staff(
    rng: random.Random, as_of: date, number: int, grid_codes: list[str], district: int = 1
) -> list[StaffPlan]:
    people = _People(rng, as_of)

    def name() -> str:
        gender = people.gender(0.6)
        return people.surname() + people.given(gender, rng.randint(24, 50))

    staff = [
        StaffPlan(
            staff_phone(Role.WORKER, number, g, district),
            name(),
            Role.WORKER,
            grid_code=code,
            lines=(WORKER_LINES[(g - 1) % len(WORKER_LINES)],),
        )
        for g, code in enumerate(grid_codes, start=1)
    ]
    staff.append(
        StaffPlan(staff_phone(Role.SUPERVISOR, number, 1, district), name(), Role.SUPERVISOR)
    )
    for k, lines in enumerate(OFFICER_LINES, start=1):
        staff.append(
            StaffPlan(
                staff_phone(Role.OFFICER, number, k, district), name(), Role.OFFICER, lines=lines
            )
        )
    return staff


def _stream(seed: int, district: int) -> str:
    """The random streams' name: district 1's as it always was, the others' of their own."""
    return f"gridline-synthetic:{seed}" + ("" if district == 1 else f":d{district}")


def plan_district(
    *, seed: int, communities: int = FULL_COMMUNITIES, as_of: date, district: int = 1
) -> Iterator[CommunityPlan]:
    """Community plans in order, one at a time (a whole district does not sit in memory)."""
    if not 1 <= communities <= FULL_COMMUNITIES:
        raise SyntheticError(f"communities must be between 1 and {FULL_COMMUNITIES}")
    if not 1 <= district <= MAX_DISTRICTS:
        raise SyntheticError(f"district must be between 1 and {MAX_DISTRICTS}")
    code_of_district, place = district_code(district), district_name(district)
    shared = _Shared(region=code_of_district)
    stream = _stream(seed, district)
    for number in range(1, communities + 1):
        rng = random.Random(f"{stream}:community:{number}")
        people = _People(rng, as_of)
        name = COMMUNITY_NAMES[number - 1]
        code = community_code(code_of_district, number)
        roads = rng.sample(ROADS, 3)
        grids = [
            _plan_grid(
                people,
                shared,
                grid_code(code_of_district, number, g),
                f"{name}第{g}网格",
                rect,
                rng.choice(roads),
                place,
            )
            for g, rect in enumerate(grid_rects(number, district), start=1)
        ]
        staff_rng = random.Random(f"{stream}:staff:{number}")
        staff = _plan_staff(staff_rng, as_of, number, [g.code for g in grids], district)
        yield CommunityPlan(number, code, name, community_rect(number, district), grids, staff)


# --- loading --------------------------------------------------------------------------------


@dataclass
class LoadResult:
    district: District
    counts: dict[str, int]
    seconds: float


def duty_window(day: date) -> tuple[datetime, datetime]:
    start, end = DUTY_HOURS
    return (
        datetime(day.year, day.month, day.day, start, tzinfo=LOCAL_TZ),
        datetime(day.year, day.month, day.day, end, tzinfo=LOCAL_TZ),
    )


def generate_district(
    *,
    password: str,
    seed: int = 20100801,
    communities: int = FULL_COMMUNITIES,
    day: date | None = None,
    progress: Callable[[str], None] | None = None,
    district: int = 1,
) -> LoadResult:
    """Load the synthetic district in one transaction; refuses if the district is already there.

    `day` (default: today in Asia/Shanghai) is the day ages are counted on and the day of the
    08:00-20:00 duty shifts of every worker and supervisor. `district` > 1 loads another
    district of a synthetic city (see the module's docstring).
    """
    started = time.monotonic()
    day = day or timezone.localdate()
    code, place = district_code(district), district_name(district)
    if District.objects.filter(code=code).exists():
        raise SyntheticError(f"district {code} already exists")
    counts = dict.fromkeys(
        (
            "communities",
            "grids",
            "buildings",
            "households",
            "residents",
            "resident_tags",
            "emergency_contacts",
            "service_points",
            "staff",
            "b_posts",
            "a_posts",
            "duty_shifts",
        ),
        0,
    )
    password_hash = make_password(password)  # once: ~400 accounts share it
    with transaction.atomic():
        loaded = District.objects.create(code=code, name=place)
        admin_phone = staff_phone(Role.DISTRICT_ADMIN, district=district)
        if User.objects.filter(phone=admin_phone).exists():
            raise SyntheticError(f"a user with the phone number {admin_phone} already exists")
        admin_rng = random.Random(f"{_stream(seed, district)}:district")
        admin_people = _People(admin_rng, day)
        User.objects.create(
            phone=admin_phone,
            name=admin_people.surname() + admin_people.given(admin_people.gender(), 45),
            role=Role.DISTRICT_ADMIN,
            district=loaded,
            is_staff=True,
            password=password_hash,
        )
        counts["staff"] += 1
        plans = plan_district(seed=seed, communities=communities, as_of=day, district=district)
        for plan in plans:
            _load_community(plan, loaded, password_hash, day, counts)
            reset_queries()  # with DEBUG on, the logged bulk INSERTs would hold ~300 MB
            if progress:
                elapsed = time.monotonic() - started
                progress(
                    f"{plan.code} {plan.name}: {counts['residents']} residents, {elapsed:.1f} s"
                )
    return LoadResult(loaded, counts, time.monotonic() - started)


def _load_community(
    plan: CommunityPlan,
    district: District,
    password_hash: str,
    day: date,
    counts: dict[str, int],
) -> None:
    community = Community.objects.create(district=district, code=plan.code, name=plan.name)
    west, south, east, north = plan.rect
    ServicePoint.objects.create(
        community=community,
        name=f"{plan.name}党群服务中心",
        address=f"{district.name}{plan.grids[0].buildings[0].name.split('号')[0]}号",
        location=Point(round((west + east) / 2, 6), round((south + north) / 2, 6), srid=4326),
        opening_hours="周一至周五 8:30-17:30；周六 9:00-12:00",
    )
    grids = Grid.objects.bulk_create(
        Grid(community=community, code=g.code, name=g.name, boundary=boundary(g.rect))
        for g in plan.grids
    )
    grid_by_code = {grid.code: grid for grid in grids}
    buildings: list[Building] = []
    households: list[Household] = []
    for grid_plan, grid in zip(plan.grids, grids, strict=True):
        for bp in grid_plan.buildings:
            building = Building(grid=grid, name=bp.name, location=Point(bp.lon, bp.lat, srid=4326))
            buildings.append(building)
            for hp in bp.households:
                households.append(
                    Household(
                        grid=grid,
                        building=building,
                        address=hp.address,
                        location=Point(hp.lon, hp.lat, srid=4326),
                    )
                )
    Building.objects.bulk_create(buildings, batch_size=BATCH)
    Household.objects.bulk_create(households, batch_size=BATCH)

    residents: list[Resident] = []
    resident_plans: list[ResidentPlan] = []
    for household, (_, _, hp) in zip(households, plan.households(), strict=True):
        for rp in hp.residents:
            residents.append(
                build_resident(
                    household=household,
                    name=rp.name,
                    gender=rp.gender,
                    birth_date=rp.birth_date,
                    id_number=rp.id_number,
                    legal_basis=LegalBasis.STATUTORY_DUTY,
                    phone=rp.phone,
                    health_notes=rp.health_notes,
                )
            )
            resident_plans.append(rp)
    Resident.objects.bulk_create(residents, batch_size=BATCH)
    tags = [
        ResidentTag(resident_id=resident.pk, tag=tag)
        for resident, rp in zip(residents, resident_plans, strict=True)
        for tag in rp.tags
    ]
    ResidentTag.objects.bulk_create(tags, batch_size=BATCH * 2)
    contacts = [
        EmergencyContact(
            resident_id=resident.pk,
            name=rp.contact.name,
            relation=rp.contact.relation,
            phone=rp.contact.phone,
        )
        for resident, rp in zip(residents, resident_plans, strict=True)
        if rp.contact is not None
    ]
    EmergencyContact.objects.bulk_create(contacts, batch_size=BATCH)

    phones = [s.phone for s in plan.staff]
    taken = list(User.objects.filter(phone__in=phones).values_list("phone", flat=True))
    if taken:
        raise SyntheticError(f"users with these phone numbers already exist: {taken[:5]}")
    users = User.objects.bulk_create(
        User(
            phone=s.phone,
            name=s.name,
            role=s.role,
            community=community,
            password=password_hash,
        )
        for s in plan.staff
    )
    starts_at, ends_at = duty_window(day)
    b_posts: list[GridAssignment] = []
    a_posts: list[BusinessLineAssignment] = []
    shifts: list[DutyShift] = []
    for user, s in zip(users, plan.staff, strict=True):
        b_post = grid_by_code[s.grid_code] if s.grid_code else None
        if b_post is not None:
            b_posts.append(GridAssignment(user=user, grid=b_post))
        a_posts.extend(
            BusinessLineAssignment(user=user, community=community, line=line) for line in s.lines
        )
        if s.role in (Role.WORKER, Role.SUPERVISOR):
            shifts.append(
                DutyShift(
                    user=user,
                    community=community,
                    grid=b_post,
                    starts_at=starts_at,
                    ends_at=ends_at,
                )
            )
    GridAssignment.objects.bulk_create(b_posts)
    BusinessLineAssignment.objects.bulk_create(a_posts)
    DutyShift.objects.bulk_create(shifts)

    counts["communities"] += 1
    counts["service_points"] += 1
    counts["grids"] += len(grids)
    counts["buildings"] += len(buildings)
    counts["households"] += len(households)
    counts["residents"] += len(residents)
    counts["resident_tags"] += len(tags)
    counts["emergency_contacts"] += len(contacts)
    counts["staff"] += len(users)
    counts["b_posts"] += len(b_posts)
    counts["a_posts"] += len(a_posts)
    counts["duty_shifts"] += len(shifts)


def ensure_duty_shifts(*, day: date) -> int:
    """Give every worker and supervisor of the synthetic district a 08:00-20:00 shift on `day`
    unless they already have one then (a demo started on a later day still has people on duty).
    Returns the number of shifts added."""
    starts_at, ends_at = duty_window(day)
    overlapping = DutyShift.objects.filter(
        user=OuterRef("pk"), starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    staff = User.objects.filter(
        ~Exists(overlapping),
        community__district__code=DISTRICT_CODE,
        role__in=(Role.WORKER, Role.SUPERVISOR),
        is_active=True,
    )
    b_post_grid = dict(
        GridAssignment.objects.filter(user__in=staff)
        .order_by("-grid__code")  # the first grid wins
        .values_list("user_id", "grid_id")
    )
    shifts = [
        DutyShift(
            user_id=user_id,
            community_id=community_id,
            grid_id=b_post_grid.get(user_id) if role == Role.WORKER else None,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        for user_id, community_id, role in staff.values_list("pk", "community_id", "role")
    ]
    DutyShift.objects.bulk_create(shifts)
    return len(shifts)
