//! The identity port on a Cognito user pool whose username is the e-mail
//! address, through the public (client-side) API: sign-up, USER_PASSWORD_AUTH
//! and REFRESH_TOKEN_AUTH sign-in, global sign-out and the password flows.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, AuthenticationResultType, CodeDeliveryDetailsType,
};

use std::sync::Arc;

use super::describe;
use super::jwks::Jwks;
use crate::config::AwsSettings;
use crate::ports::identity::{
    AccessClaims, CodeDelivery, Identity, IdentityError, IdentityResult, SignUp, SignedUp, Tokens,
    User,
};

/// Expiry Cognito gives tokens by default, used if a response leaves it out.
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// The identity port on Cognito.
#[derive(Clone, Debug)]
pub struct CognitoIdentity {
    client: Client,
    pool_id: Option<String>,
    client_id: Option<String>,
    jwks: Option<Arc<Jwks>>,
}

impl CognitoIdentity {
    /// A client for the pool and app client named in `settings`. Missing names
    /// are reported by each operation, so a function that never signs anyone
    /// in runs without them.
    pub fn new(sdk: &SdkConfig, settings: &AwsSettings) -> Self {
        let region = sdk.region().map_or("us-east-1", |r| r.as_ref());
        let jwks = settings.user_pool_id.as_deref().map(|pool| {
            Arc::new(Jwks::new(
                region,
                pool,
                settings.user_pool_client_id.clone(),
                sdk.endpoint_url(),
            ))
        });
        Self {
            client: Client::new(sdk),
            pool_id: settings.user_pool_id.clone(),
            client_id: settings.user_pool_client_id.clone(),
            jwks,
        }
    }

    /// Wraps an SDK client built by the caller (tests add interceptors);
    /// `endpoint` serves the pool's keys when it is an emulator's.
    pub fn from_client(
        client: Client,
        pool_id: impl Into<String>,
        client_id: impl Into<String>,
        endpoint: Option<&str>,
    ) -> Self {
        let (pool_id, client_id) = (pool_id.into(), client_id.into());
        let region = client
            .config()
            .region()
            .map_or("us-east-1", |r| r.as_ref())
            .to_string();
        let jwks = Jwks::new(&region, &pool_id, Some(client_id.clone()), endpoint);
        Self {
            client,
            pool_id: Some(pool_id),
            client_id: Some(client_id),
            jwks: Some(Arc::new(jwks)),
        }
    }

    /// The user pool id, if configured.
    pub fn pool_id(&self) -> Option<&str> {
        self.pool_id.as_deref()
    }

    fn client_id(&self) -> IdentityResult<&str> {
        self.client_id.as_deref().ok_or_else(|| {
            IdentityError::Backend(
                "no Cognito app client is configured (set NOCODE_USER_POOL_CLIENT_ID)".into(),
            )
        })
    }
}

/// Cognito's error codes to the port's errors; anything else is a backend failure.
fn map_error<E, R>(error: SdkError<E, R>) -> IdentityError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = || error.message().unwrap_or_default().to_string();
    match error.code() {
        Some("UsernameExistsException") => IdentityError::UsernameExists,
        Some("InvalidPasswordException") => IdentityError::InvalidPassword(message()),
        Some("InvalidParameterException") => IdentityError::InvalidParameter(message()),
        Some("NotAuthorizedException") => IdentityError::NotAuthorized,
        Some("UserNotConfirmedException") => IdentityError::UserNotConfirmed,
        Some("UserNotFoundException") => IdentityError::UserNotFound,
        Some("CodeMismatchException") => IdentityError::CodeMismatch,
        Some("ExpiredCodeException") => IdentityError::ExpiredCode,
        Some(
            "TooManyRequestsException"
            | "LimitExceededException"
            | "TooManyFailedAttemptsException",
        ) => IdentityError::TooManyRequests,
        _ => IdentityError::Backend(describe(&error)),
    }
}

fn attribute(name: &str, value: &str) -> IdentityResult<AttributeType> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| IdentityError::Backend(format!("building attribute {name}: {e}")))
}

fn tokens(
    result: Option<&AuthenticationResultType>,
    challenge: Option<&str>,
) -> IdentityResult<Tokens> {
    let Some(result) = result else {
        return Err(IdentityError::Backend(match challenge {
            Some(c) => {
                format!("sign-in asks for the {c} challenge, which the platform does not support")
            }
            None => "sign-in gave neither tokens nor a challenge".into(),
        }));
    };
    let missing = |what: &str| IdentityError::Backend(format!("sign-in gave no {what}"));
    Ok(Tokens {
        access_token: result
            .access_token()
            .ok_or_else(|| missing("access token"))?
            .to_string(),
        id_token: result
            .id_token()
            .ok_or_else(|| missing("id token"))?
            .to_string(),
        refresh_token: result.refresh_token().map(str::to_string),
        expires_in: u64::try_from(result.expires_in())
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_EXPIRES_IN),
    })
}

fn delivery(details: Option<&CodeDeliveryDetailsType>) -> CodeDelivery {
    CodeDelivery {
        medium: details
            .and_then(|d| d.delivery_medium())
            .map_or("EMAIL", |m| m.as_str())
            .to_string(),
        destination: details
            .and_then(|d| d.destination())
            .unwrap_or_default()
            .to_string(),
    }
}

#[async_trait]
impl Identity for CognitoIdentity {
    async fn verify_access_token(&self, access_token: &str) -> IdentityResult<AccessClaims> {
        let jwks = self.jwks.as_ref().ok_or_else(|| {
            IdentityError::Backend("no user pool is configured (set NOCODE_USER_POOL_ID)".into())
        })?;
        jwks.verify(access_token).await
    }

    async fn probe(&self) -> Result<(), String> {
        // Cognito answering "not authorized" to a made-up token is alive.
        match self.get_user("health-probe").await {
            Err(IdentityError::Backend(why)) => Err(why),
            _ => Ok(()),
        }
    }

    async fn sign_up(&self, sign_up: SignUp) -> IdentityResult<SignedUp> {
        let mut request = self
            .client
            .sign_up()
            .client_id(self.client_id()?)
            .username(&sign_up.email)
            .password(&sign_up.password);
        for (name, value) in &sign_up.attributes {
            request = request.user_attributes(attribute(name, value)?);
        }
        let out = request.send().await.map_err(map_error)?;
        Ok(SignedUp {
            sub: out.user_sub().to_string(),
            confirmed: out.user_confirmed(),
        })
    }

    async fn confirm_sign_up(&self, email: &str, code: &str) -> IdentityResult<()> {
        self.client
            .confirm_sign_up()
            .client_id(self.client_id()?)
            .username(email)
            .confirmation_code(code)
            .send()
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn resend_code(&self, email: &str) -> IdentityResult<CodeDelivery> {
        let out = self
            .client
            .resend_confirmation_code()
            .client_id(self.client_id()?)
            .username(email)
            .send()
            .await
            .map_err(map_error)?;
        Ok(delivery(out.code_delivery_details()))
    }

    async fn sign_in(&self, email: &str, password: &str) -> IdentityResult<Tokens> {
        let out = self
            .client
            .initiate_auth()
            .client_id(self.client_id()?)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(|e| match map_error(e) {
                // Whether the account exists is not the caller's business.
                IdentityError::UserNotFound => IdentityError::NotAuthorized,
                other => other,
            })?;
        tokens(
            out.authentication_result(),
            out.challenge_name().map(|c| c.as_str()),
        )
    }

    async fn refresh(&self, refresh_token: &str) -> IdentityResult<Tokens> {
        let out = self
            .client
            .initiate_auth()
            .client_id(self.client_id()?)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", refresh_token)
            .send()
            .await
            .map_err(map_error)?;
        let mut tokens = tokens(
            out.authentication_result(),
            out.challenge_name().map(|c| c.as_str()),
        )?;
        // The port promises no refresh token from a refresh, whatever rotation does.
        tokens.refresh_token = None;
        Ok(tokens)
    }

    async fn global_sign_out(&self, access_token: &str) -> IdentityResult<()> {
        self.client
            .global_sign_out()
            .access_token(access_token)
            .send()
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn forgot_password(&self, email: &str) -> IdentityResult<CodeDelivery> {
        let out = self
            .client
            .forgot_password()
            .client_id(self.client_id()?)
            .username(email)
            .send()
            .await
            .map_err(map_error)?;
        Ok(delivery(out.code_delivery_details()))
    }

    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> IdentityResult<()> {
        self.client
            .confirm_forgot_password()
            .client_id(self.client_id()?)
            .username(email)
            .confirmation_code(code)
            .password(new_password)
            .send()
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn change_password(
        &self,
        access_token: &str,
        old_password: &str,
        new_password: &str,
    ) -> IdentityResult<()> {
        self.client
            .change_password()
            .access_token(access_token)
            .previous_password(old_password)
            .proposed_password(new_password)
            .send()
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn get_user(&self, access_token: &str) -> IdentityResult<User> {
        let out = self
            .client
            .get_user()
            .access_token(access_token)
            .send()
            .await
            .map_err(map_error)?;
        let attributes: BTreeMap<String, String> = out
            .user_attributes()
            .iter()
            .map(|a| {
                (
                    a.name().to_string(),
                    a.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let sub = attributes
            .get("sub")
            .cloned()
            .ok_or_else(|| IdentityError::Backend("GetUser gave no sub attribute".into()))?;
        // Cognito's own username is an opaque id when the e-mail is the
        // username attribute; the port's username is the e-mail.
        let username = attributes
            .get("email")
            .cloned()
            .unwrap_or_else(|| out.username().to_string());
        Ok(User {
            username,
            sub,
            attributes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_app_client_is_a_backend_error() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let identity = CognitoIdentity::new(&sdk, &AwsSettings::default());
        assert_eq!(identity.pool_id(), None);
        match identity.sign_in("a@example.com", "Secret-Pass-1").await {
            Err(IdentityError::Backend(message)) => {
                assert!(message.contains("NOCODE_USER_POOL_CLIENT_ID"), "{message}");
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
    }
}
