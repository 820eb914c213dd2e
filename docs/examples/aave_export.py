"""A lending protocol's position export as a positions file: Aave v3's
subgraph (aave/protocol-subgraphs, `schemas/v3.schema.graphql`) lists a
`UserReserve` per user and reserve, with `currentATokenBalance` (what the
user supplied, interest included) and `currentTotalDebt` in the reserve's
smallest unit, and the reserve's `symbol` and `decimals`. A query such as

    { userReserves(first: 1000) { user { id } reserve { symbol decimals }
      currentATokenBalance currentTotalDebt usageAsCollateralEnabledOnUser } }

flattened to a table gives the columns below. firesale holds one balance an
asset an account, so a user's supply and debt of one asset are netted; a
supply not enabled as collateral is dropped here (Aave gives it no weight
in the health factor). Amounts stay integers in base units, read exactly
with their decimals: no float on the way.

Run from the repository's root (CI does): python docs/examples/aave_export.py
"""

import io
import pathlib

import pandas as pd

import firesale

# Four rows of such an export (made up, in its shape: addresses, symbols,
# decimals, amounts as the subgraph's BigInt strings).
EXPORT = """user,symbol,decimals,currentATokenBalance,currentTotalDebt,usageAsCollateralEnabledOnUser
0x5a1c00000000000000000000000000000000a11c,WETH,18,12500000000000000000,0,true
0x5a1c00000000000000000000000000000000a11c,USDC,6,0,17900000000,false
0x0b0b00000000000000000000000000000000b0b0,WETH,18,3200000000000000000,0,true
0x0b0b00000000000000000000000000000000b0b0,USDC,6,150000000,4350000000,true
"""


def positions(export: pd.DataFrame, symbols: dict) -> pd.DataFrame:
    """The export as `account,asset,base_units,decimals` rows: accounts
    numbered in the order users first appear, assets renamed by `symbols`
    (the export's symbol to the scenario's asset), each balance the supply
    (if it counts as collateral) less the debt."""
    # Python integers, written as their digits: exact at any size (an
    # 18-decimal balance passes 2^63 at 9.2 tokens).
    net = [
        (int(supply) if collateral else 0) - int(debt)
        for supply, debt, collateral in zip(
            export["currentATokenBalance"],
            export["currentTotalDebt"],
            export["usageAsCollateralEnabledOnUser"],
        )
    ]
    out = pd.DataFrame(
        {
            "account": pd.factorize(export["user"])[0],
            "asset": export["symbol"].map(symbols),
            "base_units": [str(n) for n in net],
            "decimals": export["decimals"],
        }
    )
    return out[[n != 0 for n in net]]


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parents[2]
    export = pd.read_csv(io.StringIO(EXPORT), dtype={"currentATokenBalance": str, "currentTotalDebt": str})
    book = positions(export, {"WETH": "ETH", "USDC": "USDC"})
    print(book.to_string(index=False))
    text = (root / "scenarios" / "default.toml").read_text()
    market = text[: text.index("[accounts.population]")] + '[accounts]\npositions = "book.csv"\n'
    # A market needs lenders of what the book borrows.
    lenders = pd.DataFrame({"account": [9], "asset": ["USDC"], "base_units": ["50000000000"], "decimals": [6]})
    report = firesale.run(market, positions=pd.concat([book, lenders]).to_csv(index=False))
    print(report)
    # The first user (12.5 ETH against 17,900 USDC) is liquidated by the 20% drop.
    assert report.summary["accounts_liquidated"] >= 1
