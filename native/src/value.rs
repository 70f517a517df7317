//! One attribute value: the scalar types privlog's steps write, and spare strings for them.

use std::cell::RefCell;

thread_local! {
    /// Strings of values already written, for the next record's: the compiled `anonymize`
    /// hands each line's values back (`recycle`), sparing a `malloc` and a `free` per value.
    static SPARE: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// At most this many spare strings are kept, none larger than `SPARE_SIZE`.
const SPARES: usize = 32;
const SPARE_SIZE: usize = 4096;

/// An empty string with room for `len` bytes: the last spare one if it has the room (a line's
/// values are handed back in reverse, so each slot gets the last line's string of that slot).
pub fn spare(len: usize) -> String {
    SPARE.with(|s| {
        let mut spare = s.borrow_mut();
        match spare.last() {
            Some(t) if t.capacity() >= len => {
                let mut t = spare.pop().unwrap_or_default();
                t.clear();
                t
            }
            _ => String::with_capacity(len),
        }
    })
}

/// `x` as an owned string, in a spare buffer if one has the room.
pub fn text(x: &str) -> String {
    let mut t = spare(x.len());
    t.push_str(x);
    t
}

/// Empty `values`, keeping their strings for `text` (the first value's is handed out first).
pub fn recycle(values: &mut Vec<Option<Value>>) {
    SPARE.with(|s| {
        let mut spare = s.borrow_mut();
        for v in values.drain(..).rev() {
            if let Some(Value::Str(t)) = v {
                if spare.len() < SPARES && t.capacity() <= SPARE_SIZE {
                    spare.push(t);
                }
            }
        }
    });
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    /// Any int orjson can write (i64 and u64); wider ones go back to Python.
    Int(i128),
    Float(f64),
    Bool(bool),
}

impl Value {
    /// True if orjson (the JSONL store) can write it, as the Python path would.
    pub fn json_ok(&self) -> bool {
        match self {
            Value::Int(v) => *v >= i64::MIN as i128 && *v <= u64::MAX as i128,
            _ => true,
        }
    }
}
