//! Why a message was refused: what is wrong and where, with a stable reason code for dead letters.

use serde::de::DeserializeOwned;

/// Messages above this size are refused before parsing (dead-lettered as `oversize`).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// A message that cannot be used. The `Display` text says what is wrong and at which field path;
/// [`MessageError::reason`] is the short code that goes into dead-letter headers and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The bytes are not one JSON document.
    #[error("not valid JSON (line {line}, column {column}): {message}")]
    Syntax {
        /// 1-based line of the fault.
        line: usize,
        /// 1-based column of the fault.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// Valid JSON that does not have the expected shape: a missing field, a wrong type.
    #[error("field `{path}`: {message}")]
    Shape {
        /// Where, as `payload.order_items[0].price` (`.` for the document itself).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The right shape with a value the contract forbids (a negative cost, an empty id).
    #[error("field `{path}`: {message}")]
    Value {
        /// Where, as `payload.cost`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A well-formed message of another kind (`object_type` is not the expected one).
    #[error("object_type is `{found}`, expected `{expected}`")]
    ObjectType {
        /// What the message says it is.
        found: String,
        /// What this consumer takes.
        expected: &'static str,
    },
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("message is {size} bytes, over the {limit}-byte limit")]
    Oversize {
        /// The message's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl MessageError {
    /// The dead-letter reason code: `invalid_json`, `invalid_shape`, `invalid_value`,
    /// `unknown_object_type` or `oversize`.
    pub fn reason(&self) -> &'static str {
        self.dead_letter_reason().as_str()
    }

    /// The dead-letter reason.
    pub fn dead_letter_reason(&self) -> crate::pipeline::DeadLetterReason {
        use crate::pipeline::DeadLetterReason as R;
        match self {
            MessageError::Syntax { .. } => R::InvalidJson,
            MessageError::Shape { .. } => R::InvalidShape,
            MessageError::Value { .. } => R::InvalidValue,
            MessageError::ObjectType { .. } => R::UnknownObjectType,
            MessageError::Oversize { .. } => R::Oversize,
        }
    }

    /// The field path the error is about, when there is one.
    pub fn path(&self) -> Option<&str> {
        match self {
            MessageError::Shape { path, .. } | MessageError::Value { path, .. } => Some(path),
            MessageError::ObjectType { .. } => Some("object_type"),
            _ => None,
        }
    }

    pub(crate) fn value(path: impl Into<String>, message: impl Into<String>) -> Self {
        MessageError::Value {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Decodes one message of any `serde` type as the services decode theirs: at most
/// [`MAX_MESSAGE_BYTES`], UTF-8, one JSON object, and an error that names the line and column
/// or the field path of the fault, with its dead-letter reason
/// ([`MessageError::dead_letter_reason`]). For the stages of other models.
pub fn decode_message<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MessageError> {
    from_json(bytes)
}

/// Parses one JSON document of type `T`, reporting the field path of any fault.
pub(crate) fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MessageError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(MessageError::Oversize {
            size: bytes.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    // JSON is UTF-8; serde_json checks it only where it reads a string for a field, so bytes
    // that are not UTF-8 in an ignored field would pass (and the warehouse refuse them later).
    if let Err(e) = std::str::from_utf8(bytes) {
        let before = &bytes[..e.valid_up_to()];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.len()
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        return Err(MessageError::Syntax {
            line,
            column,
            message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        });
    }
    // serde takes a JSON array for a struct (its fields in order): a message is one object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(MessageError::Shape {
            path: ".".into(),
            message: "a JSON array is not a message: expected one JSON object".into(),
        });
    }
    // Fast path without path tracking; a failure is parsed again to say where it is.
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(_) => Err(locate_error::<T>(bytes)),
    }
}

/// Parses again with path tracking to describe the fault of a document that failed to parse.
#[cold]
fn locate_error<T: DeserializeOwned>(bytes: &[u8]) -> MessageError {
    let well_formed = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(err) => {
            let path = err.path().to_string();
            classify(err.into_inner(), path, well_formed)
        }
        Ok(_) => match de.end() {
            Err(err) => classify(err, String::from("."), well_formed),
            Ok(()) => MessageError::Syntax {
                line: 0,
                column: 0,
                message: "unparseable".into(),
            },
        },
    }
}

fn classify(err: serde_json::Error, path: String, well_formed: bool) -> MessageError {
    // serde_json appends " at line L column C"; the path (or the fields below) say where.
    let full = err.to_string();
    let message = full
        .rfind(" at line ")
        .map_or(full.as_str(), |cut| &full[..cut])
        .to_owned();
    match err.classify() {
        // A well-formed document that does not fit the type is a shape fault, whatever the
        // parser calls it (`"final_status": null` reads as "expected value").
        serde_json::error::Category::Data => MessageError::Shape { path, message },
        _ if well_formed && !path.is_empty() && path != "." => {
            MessageError::Shape { path, message }
        }
        _ => MessageError::Syntax {
            line: err.line(),
            column: err.column(),
            message,
        },
    }
}
