"""The Python package against the command line: the same scenarios, the
same engine, the same digests; and its errors for bad input."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import firesale

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TOML = REPO / "scenarios" / "default.toml"


def cli() -> Path:
    """The firesale binary (`cargo build --release -p firesale-harness`),
    or the one FIRESALE_CLI names. The comparison is the point of these
    tests: a missing binary fails them rather than skipping."""
    path = Path(os.environ.get("FIRESALE_CLI", REPO / "target" / "release" / "firesale"))
    assert path.exists(), f"{path}: build the CLI first (cargo build --release -p firesale-harness)"
    return path


def cli_report(*args: str) -> dict:
    out = subprocess.run([str(cli()), "run", "--json", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def test_the_default_scenario_gives_the_clis_digest_and_report():
    expected = cli_report("default")
    report = firesale.run("default")
    assert report.digest == expected["digest"]
    assert report.summary == expected


def test_a_path_a_toml_text_and_a_dict_are_the_same_scenario():
    digest = firesale.run("default").digest
    assert firesale.run(DEFAULT_TOML).digest == digest
    assert firesale.run(str(DEFAULT_TOML)).digest == digest
    assert firesale.run(DEFAULT_TOML.read_text()).digest == digest
    tomllib = pytest.importorskip("tomllib")
    assert firesale.run(tomllib.loads(DEFAULT_TOML.read_text())).digest == digest


def test_every_bundled_scenario_but_the_million_matches_the_cli():
    names = firesale.scenarios()
    assert names[0] == "default" and len(names) >= 4
    for name in names:
        if "million" in name:
            continue  # 10^6 accounts: the CI runs it from the CLI
        assert firesale.run(name).digest == cli_report(name)["digest"], name


def test_the_timeline_has_a_row_per_round_and_sums_to_the_report():
    report = firesale.run("default")
    timeline = report.timeline
    rounds = report.summary["rounds"]
    assert list(timeline["round"]) == list(range(1, rounds + 1))
    assert int(sum(timeline["liquidations"])) == report.summary["liquidations"]
    eth = report.summary["assets"][1]
    closes = list(timeline[f"{eth['name']}_close"])
    # The lowest price is reached inside a round, at or below its close.
    assert min(closes) >= eth["min_price"] - 1e-9
    assert closes[-1] == pytest.approx(eth["final_price"])
    assert "bad_debt" in str(report) or "bad debt" in str(report)


def test_the_audit_runs_and_changes_nothing():
    assert firesale.run("default", audit=True).digest == firesale.run("default").digest


def test_check_counts_without_running():
    checked = firesale.check("default")
    assert checked["accounts"] == firesale.run("default").summary["accounts"]
    assert checked["assets"] >= 2


def test_a_bad_value_names_its_key_line_and_column():
    good = DEFAULT_TOML.read_text()
    text = good.replace("price = 2000", "price = -2000", 1)
    assert text != good
    with pytest.raises(firesale.ScenarioError) as caught:
        firesale.run(text)
    e = caught.value
    assert e.key == "assets[1] (ETH).price"
    assert e.line == text.splitlines().index("price = -2000") + 1
    assert e.column == len("price = ") + 1
    assert "must be above zero" in str(e)


def test_broken_toml_names_its_line():
    with pytest.raises(firesale.ScenarioError) as caught:
        firesale.run("name = \"x\"\n[[assets]\n")
    assert caught.value.line == 2


def test_an_unknown_name_a_none_and_a_wrong_type_are_refused():
    with pytest.raises(firesale.ScenarioError, match="no bundled scenario"):
        firesale.run("no-such-scenario")
    with pytest.raises(firesale.ScenarioError, match="None"):
        firesale.run({"name": "x", "max_rounds": None})
    with pytest.raises(TypeError):
        firesale.run(42)


def cli_json(*args: str) -> dict:
    out = subprocess.run([str(cli()), *args, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def test_a_sweep_gives_the_clis_document():
    vary = ["shocks[0].move_price=0.95:0.75:3", "insurance_fund=0:500000:2"]
    expected = cli_json("sweep", "default", "--vary", vary[0], "--vary", vary[1])
    result = firesale.sweep("default", vary)
    assert result.document["points"] == expected["points"]
    assert result.document["critical"] == expected["critical"]
    points = result.points
    assert len(points["bad_debt"]) == 6
    assert list(points["shocks[0].move_price"])[:3] == pytest.approx([0.95, 0.85, 0.75])
    assert list(points["digest"]) == [p["digest"] for p in expected["points"]]


def test_a_monte_carlo_gives_the_clis_paths_and_tail():
    expected = cli_json("montecarlo", "default", "--paths", "24", "--seed", "7")
    study = firesale.montecarlo("default", paths=24, seed=7)
    assert study.document["paths"] == expected["paths"]
    assert study.bad_debt == expected["bad_debt"]
    assert list(study.paths["path"]) == list(range(24))


def test_sweep_and_monte_carlo_refuse_bad_options():
    with pytest.raises(firesale.ScenarioError, match="vary"):
        firesale.sweep("default", "no_such_key=1:2:2")
    with pytest.raises(firesale.ScenarioError, match="paths"):
        firesale.montecarlo("default", paths=0)


def test_compare_gives_the_clis_reports_by_preset():
    expected = cli_json("compare", "default", "--presets", "aave-v3,compound-v3")
    reports = firesale.compare("default", ["aave-v3", "compound-v3"])
    assert list(reports) == ["aave-v3", "compound-v3"]
    for run in expected["runs"]:
        assert reports[run["preset"]].summary == run["report"]
    everything = firesale.compare("default")
    assert len(everything) >= 7 and everything["aave-v3"].digest == reports["aave-v3"].digest
    with pytest.raises(firesale.ScenarioError, match="no preset"):
        firesale.compare("default", ["no-such-protocol"])


def market_with_positions_file() -> str:
    """The default market with its generated accounts replaced by a
    positions file."""
    text = DEFAULT_TOML.read_text()
    market = text[: text.index("[accounts.population]")]
    return market + '[accounts]\npositions = "positions.csv"\n'


def some_positions():
    """200 ETH-backed USDC borrowers near their limits, and 20 lenders."""
    pandas = pytest.importorskip("pandas")
    accounts, assets, balances = [], [], []
    for i in range(200):
        eth = 1.0 + (i * 37 % 101) / 10.0
        accounts += [i, i]
        assets += ["ETH", "USDC"]
        balances += [eth, -eth * 2000.0 * (0.70 + (i % 13) / 100.0)]
    for i in range(200, 220):
        accounts.append(i)
        assets.append("USDC")
        balances.append(250_000.0)
    return pandas.DataFrame({"account": accounts, "asset": assets, "balance": balances})


def test_positions_from_a_dataframe_run_as_the_same_csv_file(tmp_path):
    df = some_positions()
    scenario = tmp_path / "market.toml"
    scenario.write_text(market_with_positions_file())
    df.to_csv(tmp_path / "positions.csv", index=False)
    expected = cli_report(str(scenario))
    assert expected["liquidations"] > 0 and expected["accounts"] == 220
    text = market_with_positions_file()
    assert firesale.run(text, positions=df).digest == expected["digest"]
    columns = {c: df[c].to_numpy() for c in ("account", "asset", "balance")}
    assert firesale.run(text, positions=columns).digest == expected["digest"]
    assert firesale.check(text, positions=df)["accounts"] == 220
    study = firesale.montecarlo(text, positions=df, paths=4)
    assert len(study.document["paths"]) == 4
    vary = "shocks[0].move_price=0.9:0.6:4"
    expected_sweep = cli_json("sweep", str(scenario), "--vary", vary)
    swept = firesale.sweep(text, vary, positions=df)
    assert swept.document["points"] == expected_sweep["points"]
    assert swept.document["critical"] == expected_sweep["critical"]
    assert len({p["digest"] for p in swept.document["points"]}) == 4


def test_bad_positions_name_the_row():
    df = some_positions()
    df.loc[5, "asset"] = "DOGE"
    with pytest.raises(firesale.ScenarioError, match="DOGE") as caught:
        firesale.run(market_with_positions_file(), positions=df)
    assert caught.value.key == "accounts.positions"
    with pytest.raises(TypeError):
        firesale.run(market_with_positions_file(), positions=[1, 2, 3])


def test_events_on_demand_are_the_clis_event_log(tmp_path):
    subprocess.run([str(cli()), "run", "default", "--out", str(tmp_path)], check=True, capture_output=True)
    expected = [json.loads(l) for l in (tmp_path / "events.jsonl").read_text().splitlines() if l]
    report = firesale.run("default", events=True)
    assert report.events == expected
    steps = sum(e["steps"] for e in report.events if e["type"] == "liquidation")
    assert steps == report.summary["liquidations"] > 0
    with pytest.raises(ValueError, match="events=True"):
        firesale.run("default").events
