//! Injective key encoding: `u16` big-endian length of the city, the city's bytes,
//! then the key's bytes. Because the length comes first, city `a:b` can never
//! share a prefix with city `a` (a naive `city:key` would mix them up).

use super::StoreError;

/// The key prefix of one city.
#[derive(Debug, Clone)]
pub(crate) struct Namespace {
    prefix: Vec<u8>,
}

impl Namespace {
    pub(crate) fn new(city: &str) -> Result<Self, StoreError> {
        let len = u16::try_from(city.len())
            .ok()
            .filter(|len| *len > 0)
            .ok_or_else(|| StoreError::InvalidCity(city.to_owned()))?;
        let mut prefix = Vec::with_capacity(2 + city.len());
        prefix.extend_from_slice(&len.to_be_bytes());
        prefix.extend_from_slice(city.as_bytes());
        Ok(Self { prefix })
    }

    pub(crate) fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The stored form of `key` in this namespace.
    pub(crate) fn key(&self, key: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + key.len());
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(key.as_bytes());
        out
    }

    /// The key part of a stored key, if it belongs to this namespace.
    pub(crate) fn strip<'a>(&self, stored: &'a [u8]) -> Option<&'a [u8]> {
        stored.strip_prefix(self.prefix.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_and_oversized_cities() {
        assert!(Namespace::new("").is_err());
        assert!(Namespace::new(&"x".repeat(usize::from(u16::MAX) + 1)).is_err());
        assert!(Namespace::new(&"x".repeat(usize::from(u16::MAX))).is_ok());
    }

    #[test]
    fn encoding_is_injective_where_a_separator_would_not_be() -> Result<(), StoreError> {
        let a = Namespace::new("a")?;
        let ab = Namespace::new("a:b")?;
        assert_ne!(a.key("b:k"), ab.key("k"));
        assert_eq!(a.strip(&ab.key("k")), None);
        assert_eq!(ab.strip(&a.key("b:k")), None);
        assert_eq!(a.strip(&a.key("b:k")), Some(&b"b:k"[..]));
        Ok(())
    }
}
