"""Match suggestions: approved families with free capacity, ranked by a transparent score."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChildProfile:
    age: int
    local_area: str
    languages: tuple[str, ...]
    gender: str | None = None
    wished_competences: tuple[str, ...] = ()


@dataclass(frozen=True)
class FamilyProfile:
    family_id: int
    reference: str
    local_area: str
    languages: tuple[str, ...]
    free_capacity: int
    wish_age_min: int | None = None
    wish_age_max: int | None = None
    wish_gender: str | None = None
    competences: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    family_id: int
    reference: str
    score: int
    reasons: tuple[str, ...]  # Danish, shown to the coordinator

    @property
    def label(self) -> str:
        return self.reference


def family_reference(family_id: int) -> str:
    return f"VF-{family_id:04d}"


def rank_candidates(child: ChildProfile, families: list[FamilyProfile]) -> list[Candidate]:
    """Families with free capacity, best first. Same local area weighs most, then language, then wishes."""
    ranked: list[Candidate] = []
    for family in families:
        if family.free_capacity < 1:
            continue
        score = 0
        reasons: list[str] = []
        if family.local_area.strip().lower() == child.local_area.strip().lower():
            score += 50
            reasons.append(f"samme bydel ({family.local_area})")
        else:
            reasons.append(f"anden bydel ({family.local_area})")
        shared = sorted(set(family.languages) & set(child.languages))
        if shared:
            score += 20
            reasons.append("fælles sprog: " + ", ".join(shared))
        if family.wish_age_min is not None or family.wish_age_max is not None:
            low = family.wish_age_min if family.wish_age_min is not None else 0
            high = family.wish_age_max if family.wish_age_max is not None else 99
            if low <= child.age <= high:
                score += 15
                reasons.append(f"ønsker alder {low}-{high}")
            else:
                score -= 30
                reasons.append(f"ønsker alder {low}-{high} (barnet er {child.age})")
        if family.wish_gender and child.gender:
            if family.wish_gender.lower() == child.gender.lower():
                score += 5
                reasons.append(f"ønsker {family.wish_gender}")
            else:
                score -= 10
                reasons.append(f"ønsker {family.wish_gender}")
        wanted = {c.strip().lower() for c in child.wished_competences}
        offered = sorted(c for c in family.competences if c.strip().lower() in wanted)
        if offered:
            score += 10 * len(offered)
            reasons.append("kompetencer: " + ", ".join(offered))
        ranked.append(Candidate(family.family_id, family.reference, score, tuple(reasons)))
    ranked.sort(key=lambda c: (-c.score, c.family_id))
    return ranked
