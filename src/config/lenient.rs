//! Deserializers for numbers and booleans that also accept their text form.
//!
//! `${VAR}` expansion yields strings, so `concurrency: ${CONCURRENCY}` arrives as `"16"`; these
//! let such values parse while still rejecting text that is not a number or boolean.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};

/// A number written either as a YAML number or as text (`16` or `"16"`).
pub(crate) fn number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    deserializer.deserialize_any(NumberVisitor(PhantomData))
}

/// Like [`number`], for optional keys.
pub(crate) fn option_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    number(deserializer).map(Some)
}

/// Text, also when YAML reads the value as a number or boolean (`password: 123456`), so a
/// secret never ends up in a type error message.
pub(crate) fn option_text<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    struct TextVisitor;
    impl Visitor<'_> for TextVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    deserializer.deserialize_any(TextVisitor)
}

/// A boolean written either as a YAML boolean or as text (`true` or `"true"`).
pub(crate) fn option_bool<'de, D>(deserializer: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    struct BoolVisitor;
    impl Visitor<'_> for BoolVisitor {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true or false")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(E::custom("expected true or false")),
            }
        }
    }
    deserializer.deserialize_any(BoolVisitor).map(Some)
}

struct NumberVisitor<T>(PhantomData<T>);

impl<T> NumberVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    // The text is not echoed: after `${VAR}` expansion it could be a secret put in by mistake.
    fn parse<E: de::Error>(text: &str) -> Result<T, E> {
        text.trim()
            .parse::<T>()
            .map_err(|err| E::custom(format!("not a valid number: {err}")))
    }
}

impl<T> Visitor<'_> for NumberVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Self::parse(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Self::parse(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Self::parse(&v.to_string())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Self::parse(v)
    }
}
