//! Studio's one error enum: the refusals only studio makes, each with its
//! stable code (docs/problems.md), and their one mapping to problems.

use crate::http::{ApiError, Conflict};

/// What studio refuses, beyond the spine's common problems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StudioError {
    /// `slug_taken`: another project of the organization has that slug.
    #[error("slug_taken")]
    SlugTaken,
    /// `project_archived`: an archived project only reads; unarchive it first.
    #[error("project_archived")]
    ProjectArchived,
}

impl StudioError {
    /// Every refusal, for the documentation's test.
    pub const ALL: [StudioError; 2] = [StudioError::SlugTaken, StudioError::ProjectArchived];

    fn conflict(self) -> Conflict {
        let (code, detail) = match self {
            StudioError::SlugTaken => (
                "slug_taken",
                "Another project of this organization has that slug.",
            ),
            StudioError::ProjectArchived => (
                "project_archived",
                "The project is archived: unarchive it to change it.",
            ),
        };
        Conflict { code, detail }
    }
}

impl From<StudioError> for ApiError {
    fn from(error: StudioError) -> Self {
        ApiError::Conflict(error.conflict())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_listed_in_the_docs_under_its_own_code() {
        let docs = include_str!("../../../docs/problems.md");
        for error in StudioError::ALL {
            let problem = ApiError::from(error);
            let row = format!("| {} | `{}` |", problem.status(), problem.code());
            assert!(docs.contains(&row), "docs/problems.md lacks {row}");
            assert_eq!(problem.code(), error.to_string());
        }
    }
}
