"""What an account's journey stage means for its numbers: the one place that says which scores, probabilities, lists
and playbooks apply to an account in a free, paying or churned stage.

- Pre-sale (a free stage, or no stage known yet: a lead imported without one): the lead score, its grade and
  qualification (MQL/PQL) and the conversion probability apply. This is who the call list is for.
- Paying: expansion (except on the top paying rank: nothing to expand to) and churn apply; the lead score is still
  computed (fit + engagement are measures rules read) but is not a judgement of a customer ("qualified" means
  ready to buy).
- Churned: nothing "to buy" and nothing to lose; the account shows as churned.

``scoring.ml.history.OUTCOME_KINDS`` says the same for the models (that package imports no Django; a test keeps
the two equal).
"""

from __future__ import annotations

from django.db.models import Max, Q

from .choices import StageKind

# The stage kinds each predicted outcome applies to (expansion also excludes the top paying rank).
OUTCOME_STAGE_KINDS: dict[str, tuple[str, ...]] = {
    "conversion": (StageKind.FREE,),
    "expansion": (StageKind.PAYING,),
    "churn": (StageKind.PAYING,),
}
NOT_APPLICABLE_TEXT = "Not applicable at this stage"


def is_pre_sale(kind: str | None) -> bool:
    """Whether an account in a stage of this kind (None or "": no stage) is not paying yet: a lead to qualify."""
    return not kind or kind == StageKind.FREE


def top_paying_rank() -> int:
    """The highest rank of the paying stages (0 when there is none): an account there has nothing to expand to."""
    from .models import JourneyStage

    return JourneyStage.objects.filter(kind=StageKind.PAYING).aggregate(top=Max("rank"))["top"] or 0


def can_expand(kind: str | None, rank: int | None, top: int) -> bool:
    """Whether an account on a stage of this kind and rank can still move to a higher paying stage."""
    return kind == StageKind.PAYING and (rank or 0) < top


def outcome_applies(outcome: str, kind: str | None, rank: int | None, top: int) -> bool:
    """Whether a predicted outcome (conversion, expansion, churn) means something for an account at this stage."""
    if outcome == "expansion":
        return can_expand(kind, rank, top)
    return kind in OUTCOME_STAGE_KINDS.get(outcome, ())


def stage_standing(kind: str | None) -> str:
    """One word for what the stage means to a CS person: "prospect", "customer" or "churned"."""
    if kind == StageKind.CHURN:
        return "churned"
    return "customer" if kind == StageKind.PAYING else "prospect"


# Query filters over accounts (``prefix``: the path to the account, e.g. "account__" from scores).


def pre_sale_q(prefix: str = "") -> Q:
    """Accounts not paying yet: a free stage, or no stage."""
    return Q(**{f"{prefix}stage__isnull": True}) | Q(**{f"{prefix}stage__kind": StageKind.FREE})


def paying_q(prefix: str = "") -> Q:
    """Live paying customers."""
    return Q(**{f"{prefix}stage__kind": StageKind.PAYING})


def expandable_q(prefix: str = "", top: int | None = None) -> Q:
    """Paying customers below the top paying rank (``top``: read when not given)."""
    top = top_paying_rank() if top is None else top
    return paying_q(prefix) & Q(**{f"{prefix}stage__rank__lt": top})
