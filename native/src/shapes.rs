//! Declared shapes of kept values, as `privlog._transforms.shapes`: a query value or a kept
//! header is exported only when it fits.

use std::collections::HashSet;

pub enum Shape {
    /// One to six digits.
    Int,
    /// A UUID (8-4-4-4-12 hex digits), exported in lower case.
    Uuid,
    /// Exactly one of these values.
    Choices(HashSet<String>),
}

fn hex_run(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_hexdigit)
}

impl Shape {
    pub fn parse(name: Option<String>, choices: Option<Vec<String>>) -> Option<Shape> {
        match (name.as_deref(), choices) {
            (Some("int"), _) => Some(Shape::Int),
            (Some("uuid"), _) => Some(Shape::Uuid),
            (None, Some(c)) => Some(Shape::Choices(c.into_iter().collect())),
            _ => None,
        }
    }

    /// The value to export when `value` fits, else None.
    pub fn apply(&self, value: &str) -> Option<String> {
        let b = value.as_bytes();
        match self {
            Shape::Int => ((1..=6).contains(&b.len()) && b.iter().all(u8::is_ascii_digit)).then(|| value.to_owned()),
            Shape::Uuid => {
                let ok = b.len() == 36
                    && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
                    && [&b[..8], &b[9..13], &b[14..18], &b[19..23], &b[24..]].iter().all(|p| hex_run(p));
                ok.then(|| value.to_ascii_lowercase())
            }
            Shape::Choices(c) => c.contains(value).then(|| value.to_owned()),
        }
    }
}
