//! The user pool and its app client, configured as template.yaml configures
//! them: the e-mail address is the username (case-insensitive), e-mail is
//! verified by the sign-up code and recovers passwords, the password policy
//! is `shared::resources::PASSWORD_POLICY`, and the app client (no secret)
//! signs in with USER_PASSWORD_AUTH and refreshes with REFRESH_TOKEN_AUTH.

use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AccountRecoverySettingType, ExplicitAuthFlowsType, PasswordPolicyType,
    PreventUserExistenceErrorTypes, RecoveryOptionNameType, RecoveryOptionType, UserPoolPolicyType,
    UsernameAttributeType, UsernameConfigurationType, VerifiedAttributeType,
};
use shared::resources::PASSWORD_POLICY;

use super::ProvisionError;

/// A created user pool and its app client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPool {
    /// The pool id (`<region>_<id>`).
    pub pool_id: String,
    /// The app client id.
    pub client_id: String,
}

/// Attributes the app client may read (and put in id tokens).
const READ_ATTRIBUTES: &[&str] = &[
    "email",
    "email_verified",
    "given_name",
    "family_name",
    "locale",
];

/// Creates the pool `name` and its app client `<name>-client`.
pub async fn create_user_pool(sdk: &SdkConfig, name: &str) -> Result<UserPool, ProvisionError> {
    let client = Client::new(sdk);
    let resource = format!("user pool {name}");
    let build_error = |e| ProvisionError::new(resource.clone(), e);

    let min_length = i32::try_from(PASSWORD_POLICY.min_length).map_err(|e| ProvisionError {
        resource: resource.clone(),
        message: format!("password minimum length: {e}"),
    })?;
    let password_policy = PasswordPolicyType::builder()
        .minimum_length(min_length)
        .require_uppercase(PASSWORD_POLICY.require_uppercase)
        .require_lowercase(PASSWORD_POLICY.require_lowercase)
        .require_numbers(PASSWORD_POLICY.require_numbers)
        .require_symbols(PASSWORD_POLICY.require_symbols)
        .build();
    let recovery = AccountRecoverySettingType::builder()
        .recovery_mechanisms(
            RecoveryOptionType::builder()
                .name(RecoveryOptionNameType::VerifiedEmail)
                .priority(1)
                .build()
                .map_err(build_error)?,
        )
        .build();
    let username_configuration = UsernameConfigurationType::builder()
        .case_sensitive(false)
        .build()
        .map_err(build_error)?;

    let pool = client
        .create_user_pool()
        .pool_name(name)
        .username_attributes(UsernameAttributeType::Email)
        .username_configuration(username_configuration)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .account_recovery_setting(recovery)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(password_policy)
                .build(),
        )
        .send()
        .await
        .map_err(|e| ProvisionError::new(resource.clone(), e))?;
    let pool_id = pool
        .user_pool()
        .and_then(|p| p.id())
        .ok_or_else(|| ProvisionError {
            resource: resource.clone(),
            message: "the response names no pool id".into(),
        })?
        .to_string();

    let client_resource = format!("app client of user pool {name}");
    let mut request = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name(format!("{name}-client"))
        .generate_secret(false)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled);
    for attribute in READ_ATTRIBUTES {
        request = request.read_attributes(*attribute);
    }
    let app_client = request
        .send()
        .await
        .map_err(|e| ProvisionError::new(client_resource.clone(), e))?;
    let client_id = app_client
        .user_pool_client()
        .and_then(|c| c.client_id())
        .ok_or_else(|| ProvisionError {
            resource: client_resource,
            message: "the response names no client id".into(),
        })?
        .to_string();

    Ok(UserPool { pool_id, client_id })
}
