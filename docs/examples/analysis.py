"""A worked analysis from Python: a lending book as a DataFrame, one
cascade, a sweep of the shock, a Monte Carlo of the tail.

Run it from the repository's root after `pip install "./python[frames]"`:

    python docs/examples/analysis.py

CI runs it (.ci/run), so it cannot rot: every figure it prints comes from
the calls above it, and each `assert` states what an analyst reads off.
"""

import pathlib

import numpy as np
import pandas as pd

import firesale

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The market: the bundled default's ETH/USDC pool and weights, without its
# generated accounts (the book below stands for them).
text = (ROOT / "scenarios" / "default.toml").read_text()
market = text[: text.index("[accounts.population]")] + '[accounts]\npositions = "book.csv"\n'

# A book as a subgraph export gives it, already in units: 2,000 borrowers
# with ETH collateral and USDC debt at loan-to-values of 55-80% (most near
# the middle), and 200 USDC lenders.
rng = np.random.default_rng(7)
borrowers = 2_000
eth = np.round(rng.pareto(1.5, borrowers) + 0.5, 6)
ltv = np.clip(rng.normal(0.68, 0.06, borrowers), 0.55, 0.80)
debt = np.round(eth * 2_000.0 * ltv, 2)
lenders = 200
book = pd.DataFrame(
    {
        "account": np.concatenate([np.repeat(np.arange(borrowers), 2), borrowers + np.arange(lenders)]),
        "asset": ["ETH", "USDC"] * borrowers + ["USDC"] * lenders,
        "balance": np.concatenate([np.column_stack([eth, -debt]).ravel(), np.full(lenders, 2e6)]),
    }
)
print(f"book: {borrowers} borrowers, {eth.sum():,.0f} ETH against {debt.sum():,.0f} USDC")

# 1. One cascade: the scenario's 20% drop.
report = firesale.run(market, positions=book)
s = report.summary
print(f"cascade: {s['accounts_liquidated']} accounts liquidated over {s['rounds']} rounds, "
      f"bad debt {s['bad_debt']:,.2f}, digest {report.digest}")
timeline = report.timeline
low = timeline["ETH_close"].min()
print(f"ETH's lowest close {low:,.2f} (the oracle fell to 1,600; the sales took it further)")
assert len(timeline) == s["rounds"] and low < 1_600

# 2. How far can ETH fall before the book leaves bad debt? A sweep of the
#    drop, the book read again at every point.
sweep = firesale.sweep(market, "shocks[0].move_price=0.95:0.40:12", positions=book)
points = sweep.points
first_loss = sweep.document["critical"][0]
print("drop  bad debt")
for _, p in points.iterrows():
    print(f"{1 - p['shocks[0].move_price']:4.0%}  {p['bad_debt']:12,.2f}")
print(f"the first drop with bad debt: {1 - first_loss:.0%}" if first_loss else "no drop left bad debt")
assert first_loss is not None and points["bad_debt"].iloc[0] == 0
assert (points["bad_debt"].diff().dropna() >= -1e-6).all(), "a deeper drop never loses less"

# 3. The tail: 500 random paths of five rounds with crash jumps.
study = firesale.montecarlo(market, positions=book, paths=500, seed=3, jump_probability=0.1)
tail = study.bad_debt
print(f"Monte Carlo over 500 paths: P(loss) {tail['probability_of_loss']:.1%}, "
      f"VaR99 {tail['var_99']:,.2f}, ES99 {tail['expected_shortfall_99']:,.2f}")
assert tail["expected_shortfall_99"] >= tail["var_99"] >= tail["var_95"]
