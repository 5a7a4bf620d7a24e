//! Redis key names. A city's keys share the hash tag `{<city>}`, so in Redis
//! Cluster a city lives on one slot and one script may touch all of them. The
//! city is escaped (`%` → `%25`, `{` → `%7B`, `}` → `%7D`): the tag then cannot
//! end early, and the first `}` after `{` marks where the city ends, which makes
//! the encoding injective whatever the key contains.

use super::super::StoreError;
use super::super::namespace::Namespace;

/// Every key the backend uses starts with `<prefix>:`.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    prefix: String,
}

impl Layout {
    pub(super) fn new(prefix: &str) -> Result<Self, StoreError> {
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(StoreError::Backend(format!(
                "redis: key prefix {prefix:?} must be non-empty and free of braces"
            )));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    /// The keys of one city; the city must be a valid namespace (as in every store).
    pub(super) fn city(&self, city: &str) -> Result<CityKeys, StoreError> {
        Namespace::new(city)?;
        Ok(CityKeys {
            prefix: format!("{}:{{{}}}:", self.prefix, escape_city(city)),
        })
    }

    /// The set of registered cities (on its own slot in a cluster).
    pub(super) fn cities(&self) -> String {
        format!("{}:cities", self.prefix)
    }

    /// A `SCAN MATCH` pattern for every key of this layout.
    pub(super) fn everything(&self) -> String {
        format!("{}:*", escape_glob(&self.prefix))
    }
}

/// `<prefix>:{<escaped city>}:` and what follows it.
#[derive(Debug, Clone)]
pub(super) struct CityKeys {
    prefix: String,
}

impl CityKeys {
    pub(super) fn key(&self, key: &str) -> String {
        let mut out = String::with_capacity(self.prefix.len() + key.len());
        out.push_str(&self.prefix);
        out.push_str(key);
        out
    }

    /// The bucket key of a stored key, if it belongs to this city.
    pub(super) fn strip<'a>(&self, stored: &'a str) -> Option<&'a str> {
        stored.strip_prefix(self.prefix.as_str())
    }

    /// A `SCAN MATCH` / `KEYS` pattern for every key of the city.
    pub(super) fn pattern(&self) -> String {
        format!("{}*", escape_glob(&self.prefix))
    }
}

fn escape_city(city: &str) -> String {
    if !city.contains(['%', '{', '}']) {
        return city.to_owned();
    }
    city.replace('%', "%25")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// Makes `text` match only itself in a Redis glob pattern.
fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout::new("usage").expect("layout")
    }

    #[test]
    fn keys_carry_the_city_as_hash_tag() -> Result<(), StoreError> {
        let berlin = layout().city("Berlin")?;
        assert_eq!(berlin.key("seq"), "usage:{Berlin}:seq");
        assert_eq!(berlin.key(""), "usage:{Berlin}:");
        assert_eq!(berlin.key("x{y}"), "usage:{Berlin}:x{y}");
        assert_eq!(berlin.pattern(), "usage:{Berlin}:*");
        assert_eq!(layout().cities(), "usage:cities");
        Ok(())
    }

    #[test]
    fn braces_in_a_city_cannot_end_the_tag() -> Result<(), StoreError> {
        let odd = layout().city("a}b{c%")?;
        assert_eq!(odd.key("k"), "usage:{a%7Db%7Bc%25}:k");
        // Without escaping, `a}` + `x` and `a` + `}x` would collide.
        assert_ne!(layout().city("a}")?.key("x"), layout().city("a")?.key("}x"));
        assert_ne!(layout().city("%7D")?.key("k"), layout().city("}")?.key("k"));
        Ok(())
    }

    #[test]
    fn strip_keeps_cities_apart() -> Result<(), StoreError> {
        let a = layout().city("a")?;
        let ab = layout().city("a:b")?;
        assert_eq!(a.strip(&a.key("b:k")), Some("b:k"));
        assert_eq!(a.strip(&ab.key("k")), None);
        assert_eq!(ab.strip(&a.key("b:k")), None);
        Ok(())
    }

    #[test]
    fn glob_characters_match_literally() -> Result<(), StoreError> {
        assert_eq!(
            layout().city("a*?[]\\")?.pattern(),
            r"usage:{a\*\?\[\]\\}:*"
        );
        assert_eq!(Layout::new("t[1]")?.everything(), r"t\[1\]:*");
        Ok(())
    }

    #[test]
    fn rejects_bad_prefixes_and_cities() {
        assert!(Layout::new("").is_err());
        assert!(Layout::new("a{b").is_err());
        assert!(matches!(layout().city(""), Err(StoreError::InvalidCity(_))));
    }
}
