//! Runtime's refusals beyond the spine's common problems, each with its
//! stable code (docs/problems.md).

use crate::http::{ApiError, Conflict};

/// What the records API refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// `unique_taken`: another record holds this unique field's value.
    #[error("unique_taken")]
    UniqueTaken(String),
}

impl From<RuntimeError> for ApiError {
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::UniqueTaken(field) => ApiError::Conflict(Conflict {
                code: "unique_taken",
                detail: "Another record holds this value of a unique field.",
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
        let problem = ApiError::from(RuntimeError::UniqueTaken("email".into()));
        let row = format!("| {} | `{}` |", problem.status(), problem.code());
        assert!(docs.contains(&row), "docs/problems.md lacks {row}");
        assert_eq!(problem.problem(None).errors[0].field, "email");
    }
}
