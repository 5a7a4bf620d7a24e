//! Realistic generated facts, shaped like the GenAI trace: users and models
//! drawn from Zipf-like distributions (a few heavy users, a long tail), ~2%
//! failures, 2-3 quantities per fact, occurred-at in time order over a fixed
//! window with a little jitter (live traffic arrives roughly in order).

use std::collections::BTreeMap;

use usage_host::bindings as host;
use usage_host::wire::{FactJson, OutcomeKind};

/// End of the generated traffic (2025-06-01T00:00Z) and its length.
pub const END_MS: u64 = 1_748_736_000_000;
pub const SPAN_MS: u64 = 90 * DAY_MS;
pub const DAY_MS: u64 = 86_400_000;
/// Facts arrive up to this much out of order.
const JITTER_MS: u64 = 10 * 60_000;

pub const USERS: usize = 4000;
pub const MODELS: usize = 40;
/// The heaviest user (about 4.5% of all facts, like the trace's top group) and
/// a light one (about 0.02%).
pub const HEAVY_USER: &str = "u0";
pub const LIGHT_USER: &str = "u1000";

const SERVICES: [&str; 3] = ["image", "chat", "embed"];
const FAILURE_KINDS: [(&str, u64); 3] = [("timeout", 50), ("rate_limited", 30), ("internal", 20)];
/// Quantity names a service reports; SQLite gets one column per name.
pub const QUANTITY_NAMES: [&str; 6] = [
    "images",
    "steps",
    "prompt_chars",
    "input_tokens",
    "output_tokens",
    "vectors",
];

/// One generated fact, independent of the API it is sent through.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: String,
    pub user: String,
    pub service: &'static str,
    pub model: String,
    pub failure: Option<&'static str>,
    pub occurred_at: u64,
    pub duration_ms: u64,
    pub quantities: Vec<(&'static str, u64)>,
}

/// A deterministic stream of `total` facts spread over the window.
pub struct Generator {
    rng: SplitMix,
    users: Zipf,
    models: Zipf,
    total: u64,
    next: u64,
}

impl Generator {
    pub fn new(seed: u64, total: u64) -> Generator {
        Generator {
            rng: SplitMix(seed),
            users: Zipf::new(USERS, 0.8),
            models: Zipf::new(MODELS, 1.2),
            total: total.max(1),
            next: 0,
        }
    }

    pub fn take(&mut self, n: usize) -> Vec<Spec> {
        (0..n).map(|_| self.one()).collect()
    }

    fn one(&mut self) -> Spec {
        let i = self.next;
        self.next += 1;
        let start = END_MS - SPAN_MS;
        let base = start
            + (u128::from(i) * u128::from(SPAN_MS - JITTER_MS) / u128::from(self.total)) as u64;
        let occurred_at = base + self.rng.below(JITTER_MS);
        let user = format!("u{}", self.users.sample(&mut self.rng));
        let model_rank = self.models.sample(&mut self.rng);
        let service = SERVICES[model_rank % SERVICES.len()];
        let failure = (self.rng.below(1000) < 20).then(|| {
            let mut pick = self.rng.below(100);
            let mut kind = FAILURE_KINDS[0].0;
            for (name, weight) in FAILURE_KINDS {
                kind = name;
                if pick < weight {
                    break;
                }
                pick -= weight;
            }
            kind
        });
        let quantities = match service {
            "image" => vec![
                ("images", 1 + self.rng.below(4)),
                ("steps", 20 + self.rng.below(30)),
                ("prompt_chars", 10 + self.rng.below(400)),
            ],
            "chat" => vec![
                ("input_tokens", 50 + self.rng.below(4000)),
                ("output_tokens", 10 + self.rng.below(800)),
            ],
            _ => vec![
                ("input_tokens", 10 + self.rng.below(500)),
                ("vectors", 1 + self.rng.below(16)),
            ],
        };
        Spec {
            id: format!("{:016x}{:08x}", self.rng.next(), i),
            user,
            service,
            model: format!("m{model_rank}"),
            failure,
            occurred_at,
            duration_ms: 100 + self.rng.below(20_000),
            quantities,
        }
    }
}

impl Spec {
    pub fn to_host(&self) -> host::Fact {
        host::Fact {
            id: Some(self.id.clone()),
            user: self.user.clone(),
            service: self.service.to_owned(),
            model: Some(self.model.clone()),
            outcome: match self.failure {
                None => host::Outcome::Success,
                Some(kind) => host::Outcome::Failure(host::Failure {
                    kind: kind.to_owned(),
                    message: None,
                }),
            },
            occurred_at: Some(self.occurred_at),
            duration_ms: Some(self.duration_ms),
            quantities: self
                .quantities
                .iter()
                .map(|(name, value)| host::Quantity {
                    name: (*name).to_owned(),
                    value: *value,
                })
                .collect(),
        }
    }

    pub fn to_guest(&self) -> usage_guest::model::Fact {
        use usage_guest::model::{Fact, Outcome, Quantity};
        Fact {
            id: Some(self.id.clone()),
            user: self.user.clone(),
            service: self.service.to_owned(),
            model: Some(self.model.clone()),
            outcome: match self.failure {
                None => Outcome::Success,
                Some(kind) => Outcome::Failure {
                    kind: kind.to_owned(),
                    message: None,
                },
            },
            occurred_at: Some(self.occurred_at),
            duration_ms: Some(self.duration_ms),
            quantities: self
                .quantities
                .iter()
                .map(|(name, value)| Quantity {
                    name: (*name).to_owned(),
                    value: *value,
                })
                .collect(),
        }
    }

    /// One line of a `usage import` jsonl file.
    pub fn to_json_line(&self) -> String {
        let fact = FactJson {
            id: Some(self.id.clone()),
            user: self.user.clone(),
            service: self.service.to_owned(),
            model: Some(self.model.clone()),
            outcome: match self.failure {
                None => OutcomeKind::Success,
                Some(_) => OutcomeKind::Failure,
            },
            error_kind: self.failure.map(str::to_owned),
            error_message: None,
            occurred_at: Some(self.occurred_at),
            duration_ms: Some(self.duration_ms),
            quantities: self
                .quantities
                .iter()
                .map(|(n, v)| ((*n).to_owned(), *v))
                .collect::<BTreeMap<_, _>>(),
        };
        serde_json::to_string(&fact).unwrap_or_default()
    }
}

/// A small, fast, deterministic generator (SplitMix64).
pub struct SplitMix(u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Ranks 0..n with probability proportional to (rank + 1)^-s.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let mut cdf = Vec::with_capacity(n);
        for k in 1..=n {
            total += (k as f64).powf(-s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut SplitMix) -> usize {
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }
}
