//! Serde helpers: timestamps leave as RFC 3339 UTC strings and come back as either
//! RFC 3339 or integer milliseconds.

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;

use crate::timestamp::{self, Millis};

pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&timestamp::format_rfc3339(*ms))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
    d.deserialize_any(MillisVisitor)
}

struct MillisVisitor;

impl Visitor<'_> for MillisVisitor {
    type Value = Millis;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an RFC 3339 time or integer milliseconds since 1970")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Millis, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Millis, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("{v} is before 1970")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Millis, E> {
        timestamp::parse_wire(v).map_err(E::custom)
    }
}

/// The same for optional timestamps; absent or `null` is `None`.
pub mod option {
    use super::*;
    use serde::Deserialize;

    pub fn serialize<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => super::serialize(ms, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(deserialize_with = "super::deserialize")] Millis);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(ms)| ms))
    }
}
