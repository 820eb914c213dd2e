//! A differential oracle: the sequential cascade written again, plainly, in
//! rationals, for small markets (the quote and one risky asset on a linear
//! venue, lag 0). No fixed point, no heap, no budgets: a direct reading of
//! docs/semantics.md. The kernel must agree with it on who is liquidated, in
//! what order, and on every amount within the documented rounding bound.
//!
//! Arithmetic is exact; only the state carried from one step to the next
//! (balances, the venue, the fund, the indices) is kept to the nearest
//! 2^-96, 2^48 times finer than the kernel's ulp. Without that, denominators
//! multiply with every liquidation and a long squeeze takes minutes.

use firesale_core::num::Fx;
use firesale_core::{Policy, ShockKind, Termination, VenueConfig};
use firesale_harness::Scenario;
use num_bigint::BigInt;
use num_rational::BigRational as Q;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// An exact copy of a fixed-point number.
pub fn q(x: Fx) -> Q {
    Q::new(BigInt::from(x.to_bits()), BigInt::one() << 48)
}

/// `x` to the nearest multiple of 2^-96 (state carried between steps).
fn fine(x: &Q) -> Q {
    let scale: BigInt = BigInt::one() << 96usize;
    let scaled = x * Q::from_integer(scale.clone());
    Q::new(scaled.round().to_integer(), scale)
}

fn f(x: &Q) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

/// One liquidation of one account in one round, with its totals.
#[derive(Clone, Debug)]
pub struct Liquidated {
    /// Round.
    pub round: u32,
    /// Account.
    pub account: usize,
    /// Repaid per asset.
    pub repaid: [f64; 2],
    /// Seized per asset.
    pub seized: [f64; 2],
    /// Written off per asset (bankruptcy).
    pub written_off: [f64; 2],
}

/// What the oracle computed.
#[derive(Debug)]
pub struct Outcome {
    /// Liquidations in order.
    pub liquidations: Vec<Liquidated>,
    /// How the run ended (failures are not modelled: `None`).
    pub termination: Option<Termination>,
    /// The insurance fund at the end.
    pub insurance: f64,
}

struct Venue {
    reference: Q,
    outstanding: Q,
    lambda: Q,
    resilience: Q,
    floor: Q,
}

impl Venue {
    fn price_at(&self, outstanding: &Q) -> Q {
        &self.reference - &self.lambda * outstanding
    }
    fn price(&self) -> Q {
        self.price_at(&self.outstanding)
    }
    fn area(&self, x: &Q) -> Q {
        &self.reference * x - &self.lambda * x * x / Q::from_integer(2.into())
    }
    /// Quote paid to the trader for `signed` base in (negative: bought).
    fn trade(&mut self, signed: &Q) -> Option<Q> {
        let after = &self.outstanding + signed;
        if self.price_at(&after) <= self.floor {
            return None;
        }
        let paid = self.area(&after) - self.area(&self.outstanding);
        self.outstanding = fine(&after);
        Some(fine(&paid))
    }
}

struct Asset {
    price: Q,
    wa: [Q; 3],
    wl: [Q; 3],
    bonus: Q,
    fee: Q,
    dust: Q,
}

const LIQ_END: usize = 1;
const MAINT: usize = 2;

/// Runs `s` (two assets, a linear venue, lag 0) exactly.
pub fn run(s: &Scenario) -> Outcome {
    assert_eq!(
        s.assets.len(),
        2,
        "the oracle models the quote and one risky asset"
    );
    let VenueConfig::Linear {
        lambda,
        resilience,
        floor,
    } = s.assets[1].venue
    else {
        panic!("the oracle models the linear venue");
    };
    let assets: Vec<Asset> = s
        .assets
        .iter()
        .map(|a| Asset {
            price: q(a.price.0),
            wa: [
                q(a.asset_weights.init.0),
                q(a.asset_weights.liq_end.0),
                q(a.asset_weights.maint.0),
            ],
            wl: [
                q(a.liability_weights.init.0),
                q(a.liability_weights.liq_end.0),
                q(a.liability_weights.maint.0),
            ],
            bonus: q(a.liquidation_bonus.0),
            fee: q(a.protocol_fee.0),
            dust: q(a.dust.0),
        })
        .collect();
    let mut venue = Venue {
        reference: assets[1].price.clone(),
        outstanding: Q::zero(),
        lambda: q(lambda),
        resilience: q(resilience.0),
        floor: q(floor.0),
    };
    let n = s.accounts();
    let mut bal: Vec<[Q; 2]> = (0..n)
        .map(|i| [q(s.balances[2 * i].0), q(s.balances[2 * i + 1].0)])
        .collect();
    let mut index = [Q::one(), Q::one()];
    let min_index = Q::new(BigInt::one(), BigInt::one() << 24);
    let mut insurance = q(s.insurance_fund.0);
    let mut out = Vec::new();
    let mut next_shock = 0;
    let zero = Q::zero();

    for round in 1..=s.max_rounds {
        while let Some(shock) = s.shocks.get(next_shock).filter(|sh| sh.round <= round) {
            let now = venue.price();
            let target = match shock.kind {
                ShockKind::MovePrice(r) => &now * q(r.0),
                ShockKind::SetPrice(p) => q(p.0),
                _ => panic!("the oracle models price shocks"),
            };
            let shifted = &venue.reference + (&target - &now);
            if target <= venue.floor || shifted <= venue.floor {
                return Outcome {
                    liquidations: out,
                    termination: Some(Termination::MarketBroken { asset: 1 }),
                    insurance: f(&insurance),
                };
            }
            venue.reference = fine(&shifted);
            next_shock += 1;
        }
        let oracle = [Q::one(), venue.price()];
        let health = |b: &[Q; 2], tier: usize| -> (Q, Q) {
            let (mut assets_w, mut liabs_w) = (Q::zero(), Q::zero());
            for a in 0..2 {
                if b[a].is_positive() {
                    assets_w += &b[a] * &oracle[a] * &assets[a].wa[tier];
                } else if b[a].is_negative() {
                    liabs_w -= &b[a] * &oracle[a] * &assets[a].wl[tier];
                }
            }
            (assets_w, liabs_w)
        };
        let mut candidates: Vec<(Q, usize)> = (0..n)
            .filter_map(|i| {
                let (a, l) = health(&bal[i], MAINT);
                let h = a - l;
                h.is_negative().then_some((h, i))
            })
            .collect();
        candidates.sort();
        let mut changed = 0;
        for (_, id) in candidates {
            let (a0, l0) = health(&bal[id], MAINT);
            if !(&a0 - &l0).is_negative() {
                continue;
            }
            let full = match s.policy {
                Policy::CloseFactor {
                    full_close_health_factor,
                    full_close_debt_value,
                    ..
                } => {
                    let hf_low = !l0.is_zero() && &a0 / &l0 <= q(full_close_health_factor.0);
                    let debt_value: Q = (0..2)
                        .filter(|&a| bal[id][a].is_negative())
                        .map(|a| -&bal[id][a] * &oracle[a])
                        .sum();
                    hf_low || debt_value < q(full_close_debt_value.0)
                }
                _ => true,
            };
            let mut entry = Liquidated {
                round,
                account: id,
                repaid: [0.0; 2],
                seized: [0.0; 2],
                written_off: [0.0; 2],
            };
            let mut steps = 0;
            let mut dust_collateral = false;
            for _ in 0..8 {
                let b = bal[id].clone();
                let Some(l) = (0..2).find(|&a| b[a].is_negative()) else {
                    break;
                };
                let Some(c) = (0..2).find(|&a| b[a].is_positive()) else {
                    break;
                };
                let debt = -&b[l];
                let held = b[c].clone();
                let spv = &oracle[l] * (Q::one() + &assets[c].bonus);
                let covered = &held * &oracle[c] / &spv;
                let wanted = match s.policy {
                    Policy::Absorb => debt.clone(),
                    Policy::CloseFactor { close_factor, .. } if !full => &debt * q(close_factor.0),
                    Policy::CloseFactor { .. } => debt.clone(),
                    Policy::ToTarget => {
                        let (a, l_) = health(&b, LIQ_END);
                        let deficit = l_ - a;
                        // Within the 2^-96 rounding of the carried state, the
                        // target is met (exact arithmetic would give zero).
                        if deficit <= Q::new(BigInt::one(), BigInt::one() << 80usize) {
                            break;
                        }
                        let gain =
                            &oracle[l] * &assets[l].wl[LIQ_END] - &spv * &assets[c].wa[LIQ_END];
                        if gain.is_positive() {
                            deficit / gain
                        } else {
                            debt.clone()
                        }
                    }
                };
                let dust = &assets[l].dust;
                let mut repay = wanted.max(dust.clone().min(debt.clone()));
                if &debt - &repay < *dust {
                    repay = debt.clone();
                }
                repay = repay.min(debt.clone()).min(covered.clone());
                if !repay.is_positive() {
                    dust_collateral = true;
                    break;
                }
                let seize = if repay >= covered {
                    held.clone()
                } else {
                    (&repay * &spv / &oracle[c]).min(held.clone())
                };
                let proceeds = if c == 0 {
                    seize.clone()
                } else {
                    match venue.trade(&seize) {
                        Some(p) => p,
                        None => {
                            return Outcome {
                                liquidations: push(out, entry, steps),
                                termination: Some(Termination::MarketBroken { asset: 1 }),
                                insurance: f(&insurance),
                            }
                        }
                    }
                };
                if l == 1 && venue.trade(&-&repay).is_none() {
                    return Outcome {
                        liquidations: push(out, entry, steps),
                        termination: Some(Termination::MarketBroken { asset: 1 }),
                        insurance: f(&insurance),
                    };
                }
                let bonus = &assets[c].bonus;
                insurance =
                    fine(&(&insurance + &proceeds * bonus * &assets[c].fee / (Q::one() + bonus)));
                bal[id][l] = fine(&(&bal[id][l] + &repay));
                bal[id][c] = fine(&(&bal[id][c] - &seize));
                entry.repaid[l] += f(&repay);
                entry.seized[c] += f(&seize);
                steps += 1;
                if matches!(s.policy, Policy::CloseFactor { .. }) {
                    break;
                }
            }
            let has_debt = bal[id].iter().any(|b| b.is_negative());
            let has_collateral = bal[id].iter().any(|b| b.is_positive()) && !dust_collateral;
            if has_debt && !has_collateral {
                for a in 0..2 {
                    if !bal[id][a].is_negative() {
                        continue;
                    }
                    let d = -&bal[id][a];
                    bal[id][a] = Q::zero();
                    entry.written_off[a] += f(&d);
                    // Insurance: pays quote debt; buys risky debt back.
                    let covered = if !insurance.is_positive() {
                        Q::zero()
                    } else if a == 0 {
                        let c = d.clone().min(insurance.clone());
                        insurance = fine(&(&insurance - &c));
                        c
                    } else {
                        let cost = |x: &Q, v: &Venue| {
                            let mut t = Venue {
                                reference: v.reference.clone(),
                                outstanding: v.outstanding.clone(),
                                lambda: v.lambda.clone(),
                                resilience: v.resilience.clone(),
                                floor: v.floor.clone(),
                            };
                            t.trade(&-x).map(|p| -p)
                        };
                        let mut qty = d.clone();
                        let mut done = Q::zero();
                        for _ in 0..8 {
                            if !qty.is_positive() {
                                break;
                            }
                            match cost(&qty, &venue) {
                                Some(c) if c <= insurance => {
                                    venue.trade(&-&qty);
                                    insurance = fine(&(&insurance - c));
                                    done = qty.clone();
                                    break;
                                }
                                Some(c) => qty = &qty * &insurance / c,
                                None => qty = &qty / Q::from_integer(2.into()),
                            }
                        }
                        done
                    };
                    let loss = &d - &covered;
                    let deposits: Q = (0..n)
                        .map(|i| bal[i][a].clone())
                        .filter(|b| b.is_positive())
                        .sum();
                    if loss.is_positive() && deposits.is_positive() {
                        let shares = &deposits / &index[a];
                        let capacity = (&deposits - &shares * &min_index).max(Q::zero());
                        let soc = loss.min(capacity);
                        let new_index = (&deposits - &soc) / &shares;
                        if new_index.is_positive() && soc.is_positive() {
                            let scale = &new_index / &index[a];
                            for row in bal.iter_mut() {
                                if row[a].is_positive() {
                                    row[a] *= &scale;
                                }
                            }
                            index[a] = new_index;
                        }
                    }
                }
            }
            if steps > 0 || entry.written_off.iter().any(|w| *w > 0.0) {
                changed += 1;
                out.push(entry);
            }
        }
        let oracle_now = venue.price();
        venue.outstanding = fine(&(&venue.outstanding * (Q::one() - &venue.resilience)));
        if venue.outstanding.abs() < assets[1].dust {
            venue.outstanding = zero.clone();
        }
        let stationary = venue.price() == oracle_now;
        if changed == 0 && next_shock >= s.shocks.len() && stationary {
            return Outcome {
                liquidations: out,
                termination: Some(Termination::FixedPoint),
                insurance: f(&insurance),
            };
        }
    }
    Outcome {
        liquidations: out,
        termination: Some(Termination::RoundCap),
        insurance: f(&insurance),
    }
}

fn push(mut out: Vec<Liquidated>, entry: Liquidated, steps: usize) -> Vec<Liquidated> {
    if steps > 0 {
        out.push(entry);
    }
    out
}
