//! Automation's refusals beyond the spine's common problems, each with its
//! stable code (docs/problems.md).

use crate::http::{ApiError, Conflict};

/// What automation refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AutomationError {
    /// `execution_ended`: the execution has ended already.
    #[error("execution_ended")]
    ExecutionEnded,
    /// `execution_not_failed`: only a failed or cancelled execution is retried.
    #[error("execution_not_failed")]
    NotRetryable,
}

impl AutomationError {
    /// Every refusal, for the documentation's test.
    pub const ALL: [AutomationError; 2] = [
        AutomationError::ExecutionEnded,
        AutomationError::NotRetryable,
    ];
}

impl From<AutomationError> for ApiError {
    fn from(error: AutomationError) -> Self {
        ApiError::Conflict(match error {
            AutomationError::ExecutionEnded => Conflict {
                code: "execution_ended",
                detail: "The execution has ended already.",
                field: None,
            },
            AutomationError::NotRetryable => Conflict {
                code: "execution_not_failed",
                detail: "Only a failed or cancelled execution is retried.",
                field: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_listed_in_the_docs_under_its_own_code() {
        let docs = include_str!("../../../docs/problems.md");
        for error in AutomationError::ALL {
            let problem = ApiError::from(error);
            let row = format!("| {} | `{}` |", problem.status(), problem.code());
            assert!(docs.contains(&row), "docs/problems.md lacks {row}");
        }
    }
}
