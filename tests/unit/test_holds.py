"""When a re-delivery is held: the thresholds' boundaries and the order of the reasons."""

from pipelines.lib.holds import Figures, HoldThresholds, bill_file_gauge, judge
from pipelines.lib.staging import MemberOutcome, StageOutcome

GAUGE = bill_file_gauge("2026-10")
DEFAULTS = HoldThresholds()


def _read(*statuses: str) -> StageOutcome:
    members = [MemberOutcome(f"m{i}.csv", 10, 10 if s != "rejected" else 0, 0 if s != "rejected" else 10, 0, s,
                             "missing column" if s == "rejected" else None) for i, s in enumerate(statuses)]
    return StageOutcome("customerBill", "customerBill/customerBill_202610.tar.gz", "2026-10", members=members)


def test_a_drop_up_to_the_threshold_is_applied_and_beyond_it_held():
    assert judge(_read("ok"), Figures(1000, 10), Figures(800, 10), GAUGE, DEFAULTS) is None
    hold = judge(_read("ok"), Figures(1502, 10), Figures(1201, 10), GAUGE, DEFAULTS)
    assert (hold.rule_id, hold.reason) == ("HOLD.LINE_DROP", "it would remove 301 of 1,502 lines of 2026-10")
    assert hold.measured == {"before": {"lines": 1502, "customers": 10}, "after": {"lines": 1201, "customers": 10}}
    # more lines or customers than before is never a drop
    assert judge(_read("ok"), Figures(10, 2), Figures(5000, 40), GAUGE, DEFAULTS) is None


def test_customers_are_judged_on_their_own_threshold():
    assert judge(_read("ok"), Figures(100, 5), Figures(100, 4), GAUGE, DEFAULTS) is None        # 20 %
    hold = judge(_read("ok"), Figures(100, 5), Figures(100, 3), GAUGE, DEFAULTS)               # 40 %
    assert (hold.rule_id, hold.reason) == ("HOLD.CUSTOMER_DROP", "it would remove 2 of 5 customers of 2026-10")
    assert judge(_read("ok"), Figures(100, 5), Figures(100, 3), GAUGE, HoldThresholds(20, 40, 0)) is None


def test_an_unreadable_member_is_the_first_reason_whatever_the_figures():
    hold = judge(_read("ok", "rejected"), Figures(100, 5), Figures(1, 1), GAUGE, DEFAULTS)
    assert hold.rule_id == "HOLD.UNREADABLE"
    assert hold.reason == "it cannot be read whole (1 of 2 member(s) rejected, the first: m1.csv: missing column)"


def test_lines_losing_their_agreement_are_held_beyond_the_allowed_count():
    losing = Figures(rules=3, lines_losing_agreement=2, customers_losing_agreement=1)
    hold = judge(_read("ok"), Figures(rules=4), losing, GAUGE, DEFAULTS)
    assert hold.rule_id == "HOLD.AGREEMENT_LOSS" and hold.reason.startswith("it would leave 2 bill lines of 1 customer")
    assert judge(_read("ok"), Figures(rules=4), losing, GAUGE, HoldThresholds(20, 20, 2)) is None
