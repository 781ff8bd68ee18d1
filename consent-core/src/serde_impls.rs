//! Serde support for the core types, as the strings (or integers) they are written as in receipts.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    Actor, Choice, CollectionKind, Id, KeyId, Lang, Method, PolicyVersion, PurposeId, ReceiptId,
    Relation, Timestamp,
};

macro_rules! as_string_for {
    ($($t:ty),+) => {$(
        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    )+};
}

as_string_for!(
    Actor,
    Choice,
    CollectionKind,
    Id,
    KeyId,
    Lang,
    Method,
    PolicyVersion,
    PurposeId,
    ReceiptId,
    Relation
);

/// Timestamps are JWT NumericDate: integer seconds since the epoch.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.as_unix())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(Timestamp::from_unix)
    }
}
