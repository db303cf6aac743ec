//! Runtime's refusals beyond the spine's common problems, each with its
//! stable code (docs/problems.md).

use crate::http::{ApiError, Conflict, Limit};

/// Most live (unrevoked) API keys an app holds.
pub const MAX_KEYS: u32 = 20;

/// What the runtime refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// `unique_taken`: another record holds this unique field's value.
    #[error("unique_taken")]
    UniqueTaken(String),
    /// `manifest_too_large`: the app's manifest is over
    /// [`super::manifest::MAX_BYTES`].
    #[error("manifest_too_large")]
    ManifestTooLarge,
    /// `too_many_keys`: the app holds [`MAX_KEYS`] live keys already.
    #[error("too_many_keys")]
    TooManyKeys,
    /// `file_taken`: the upload is attached to another record already.
    #[error("file_taken")]
    FileTaken(String),
}

impl RuntimeError {
    /// One of each refusal, for the documentation's test.
    pub fn all() -> [RuntimeError; 4] {
        [
            RuntimeError::UniqueTaken("email".into()),
            RuntimeError::ManifestTooLarge,
            RuntimeError::TooManyKeys,
            RuntimeError::FileTaken("photo".into()),
        ]
    }
}

impl From<RuntimeError> for ApiError {
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::UniqueTaken(field) => ApiError::Conflict(Conflict {
                code: "unique_taken",
                detail: "Another record holds this value of a unique field.",
                field: Some(field),
            }),
            RuntimeError::ManifestTooLarge => ApiError::Limit(Limit {
                code: "manifest_too_large",
                detail: format!(
                    "An app's manifest is at most {} bytes: split the project's pages.",
                    super::manifest::MAX_BYTES
                ),
                field: "manifest".into(),
            }),
            RuntimeError::TooManyKeys => ApiError::Limit(Limit {
                code: "too_many_keys",
                detail: format!("An app holds at most {MAX_KEYS} live API keys."),
                field: "keys".into(),
            }),
            RuntimeError::FileTaken(field) => ApiError::Conflict(Conflict {
                code: "file_taken",
                detail: "That upload belongs to another record or field; upload the file again.",
                field: Some(field),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_listed_in_the_docs_under_its_own_code() {
        let docs = include_str!("../../../docs/problems.md");
        for error in RuntimeError::all() {
            let problem = ApiError::from(error);
            let row = format!("| {} | `{}` |", problem.status(), problem.code());
            assert!(docs.contains(&row), "docs/problems.md lacks {row}");
        }
        let problem = ApiError::from(RuntimeError::UniqueTaken("email".into()));
        assert_eq!(problem.problem(None).errors[0].field, "email");
    }
}
