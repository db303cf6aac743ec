//! Studio's one error enum: the refusals only studio makes, each with its
//! stable code (docs/problems.md), and their one mapping to problems.

use super::custom::MAX_COMPONENTS;
use super::pages::MAX_PAGES;
use super::schema::{MAX_FIELDS, MAX_KEYED_FIELDS};
use crate::http::{ApiError, Conflict, Limit};

/// Most tables a project holds.
pub const MAX_TABLES: u32 = 200;

/// What studio refuses, beyond the spine's common problems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StudioError {
    /// `slug_taken`: another project of the organization has that slug.
    #[error("slug_taken")]
    SlugTaken,
    /// `project_archived`: an archived project only reads; unarchive it first.
    #[error("project_archived")]
    ProjectArchived,
    /// `table_name_taken`: another table of the project has that name.
    #[error("table_name_taken")]
    TableNameTaken,
    /// `table_referenced`: another table's relation points at this one.
    #[error("table_referenced")]
    TableReferenced,
    /// `too_many_tables`: the project holds [`MAX_TABLES`] already.
    #[error("too_many_tables")]
    TooManyTables,
    /// `too_many_fields`: a table holds at most [`MAX_FIELDS`]; the request
    /// field that passes it.
    #[error("too_many_fields")]
    TooManyFields(&'static str),
    /// `too_many_keyed_fields`: at most [`MAX_KEYED_FIELDS`] unique or
    /// indexed fields.
    #[error("too_many_keyed_fields")]
    TooManyKeyedFields(&'static str),
    /// `too_many_components`: the project holds
    /// [`super::custom::MAX_COMPONENTS`] custom components already.
    #[error("too_many_components")]
    TooManyComponents,
    /// `component_in_use`: a page uses the component.
    #[error("component_in_use")]
    ComponentInUse,
    /// `too_many_pages`: the project holds [`super::pages::MAX_PAGES`] already.
    #[error("too_many_pages")]
    TooManyPages,
    /// `page_path_taken`: another page of the project has that path.
    #[error("page_path_taken")]
    PagePathTaken,
}

impl StudioError {
    /// Every refusal, for the documentation's test.
    pub const ALL: [StudioError; 11] = [
        StudioError::SlugTaken,
        StudioError::ProjectArchived,
        StudioError::TableNameTaken,
        StudioError::TableReferenced,
        StudioError::TooManyTables,
        StudioError::TooManyFields("fields"),
        StudioError::TooManyKeyedFields("fields"),
        StudioError::TooManyComponents,
        StudioError::ComponentInUse,
        StudioError::TooManyPages,
        StudioError::PagePathTaken,
    ];
}

impl From<StudioError> for ApiError {
    fn from(error: StudioError) -> Self {
        let conflict = |code, detail| {
            ApiError::Conflict(Conflict {
                code,
                detail,
                field: None,
            })
        };
        let limit = |code, detail: String, field: &str| {
            ApiError::Limit(Limit {
                code,
                detail,
                field: field.into(),
            })
        };
        match error {
            StudioError::SlugTaken => conflict(
                "slug_taken",
                "Another project of this organization has that slug.",
            ),
            StudioError::ProjectArchived => conflict(
                "project_archived",
                "The project is archived: unarchive it to change it.",
            ),
            StudioError::TableNameTaken => conflict(
                "table_name_taken",
                "Another table of this project has that name.",
            ),
            StudioError::TableReferenced => conflict(
                "table_referenced",
                "A relation of another table points at this one: remove it first.",
            ),
            StudioError::TooManyTables => limit(
                "too_many_tables",
                format!("A project holds at most {MAX_TABLES} tables."),
                "name",
            ),
            StudioError::TooManyFields(field) => limit(
                "too_many_fields",
                format!("A table holds at most {MAX_FIELDS} fields."),
                field,
            ),
            StudioError::TooManyKeyedFields(field) => limit(
                "too_many_keyed_fields",
                format!(
                    "A table keeps at most {MAX_KEYED_FIELDS} keys: each unique field counts one, each indexed field one."
                ),
                field,
            ),
            StudioError::TooManyComponents => limit(
                "too_many_components",
                format!("A project holds at most {MAX_COMPONENTS} custom components."),
                "title",
            ),
            StudioError::ComponentInUse => conflict(
                "component_in_use",
                "A page uses this component: take it out of the page first.",
            ),
            StudioError::TooManyPages => limit(
                "too_many_pages",
                format!("A project holds at most {MAX_PAGES} pages."),
                "name",
            ),
            StudioError::PagePathTaken => conflict(
                "page_path_taken",
                "Another page of this project has that path.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_listed_in_the_docs_under_its_own_code() {
        let docs = include_str!("../../../docs/problems.md");
        let mut codes = std::collections::HashSet::new();
        for error in StudioError::ALL {
            let problem = ApiError::from(error);
            let row = format!("| {} | `{}` |", problem.status(), problem.code());
            assert!(docs.contains(&row), "docs/problems.md lacks {row}");
            assert_eq!(problem.code(), error.to_string());
            assert!(codes.insert(problem.code()), "{} twice", problem.code());
        }
    }
}
