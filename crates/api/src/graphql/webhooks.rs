//! Webhook endpoints in the schema, for admins (docs/webhooks.md). The use cases are
//! `gazette_domain::webhooks::Endpoints`; this only shows them.

use async_graphql::{
    Context, ID, InputObject, InputValueError, InputValueResult, Object, Result, Scalar,
    ScalarType, SimpleObject, Value,
};
use chrono::{DateTime, Utc};
use gazette_domain::webhooks::{EndpointInput, Endpoints};
use gazette_store::webhooks::{Delivery, Webhook};

use super::context::RequestContext;
use super::errors::ApiError;

/// How many deliveries `Webhook.deliveries` shows at most.
const MAX_DELIVERIES: i64 = 100;

/// An event type, as receivers see it in `type`: `post.published`, `post.updated`,
/// `post.unpublished`, `post.deleted`, `comment.created`, `comment.approved`,
/// `comment.unpublished`, `comment.deleted`. Written as a string, or as the enum-style name (`POST_PUBLISHED`).
pub struct WebhookEventType(String);

#[Scalar]
impl ScalarType for WebhookEventType {
    /// Any string or name is taken here; which are event types is the use case's check,
    /// made after the caller is found to be an admin (nobody else learns the list).
    fn parse(value: Value) -> InputValueResult<Self> {
        let name = match &value {
            Value::String(text) => text.as_str(),
            Value::Enum(name) => name.as_str(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        // `POST_PUBLISHED`, in a query or a variable, is `post.published`.
        let text = match name.contains('_') && !name.contains('.') {
            true => name.to_ascii_lowercase().replacen('_', ".", 1),
            false => name.to_owned(),
        };
        Ok(Self(text))
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_) | Value::Enum(_))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// The admin use cases, after the caller was found to be an admin: nobody else learns
/// anything from how their input is checked.
fn endpoints<'a>(request: &'a RequestContext) -> Result<Endpoints<'a>, ApiError> {
    request.viewer.require_admin("manage webhooks")?;
    Ok(Endpoints {
        pool: &request.pool,
        key: &request.config.commenting.edit_tokens,
        rules: request.config.webhooks,
        viewer: &request.viewer,
    })
}

fn webhook_id(id: &ID, field: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_input(field, format!("`{field}` is not a webhook id.")))
}

/// An endpoint Gazette posts events to.
pub struct WebhookNode(Webhook);

#[Object(name = "Webhook")]
impl WebhookNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn url(&self) -> &str {
        &self.0.url
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn events(&self) -> Vec<WebhookEventType> {
        self.0
            .events
            .iter()
            .cloned()
            .map(WebhookEventType)
            .collect()
    }

    /// False when an admin disabled it, the receiver answered 410 Gone, or every delivery
    /// failed for five days (see `disabledReason`).
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// `admin`, `gone` or `failing`; null while enabled.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }

    /// Since when every delivery has failed; null while the last one succeeded.
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The latest delivery attempted (its status, time, response code and error).
    async fn last_delivery(&self, ctx: &Context<'_>) -> Result<Option<WebhookDelivery>> {
        let request = RequestContext::of(ctx)?;
        let recent = endpoints(request)?
            .recent_deliveries(&[self.0.id], 20)
            .await
            .map_err(ApiError::from)?;
        Ok(recent
            .into_iter()
            .find(|delivery| delivery.last_attempt_at.is_some())
            .map(WebhookDelivery::from))
    }

    /// The latest deliveries, newest first.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i64,
    ) -> Result<Vec<WebhookDelivery>> {
        let request = RequestContext::of(ctx)?;
        let recent = endpoints(request)?
            .recent_deliveries(&[self.0.id], first.clamp(0, MAX_DELIVERIES))
            .await
            .map_err(ApiError::from)?;
        Ok(recent.into_iter().map(WebhookDelivery::from).collect())
    }
}

/// One event's delivery to an endpoint.
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    id: ID,
    /// The event's id, as receivers get it in `webhook-id` (`msg_<n>`).
    event_id: String,
    #[graphql(name = "type")]
    event_type: String,
    /// `pending` (to be attempted, or retried later), `delivered`, or `failed` (given up).
    status: String,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status on the last attempt.
    response_code: Option<i32>,
    error: Option<String>,
    delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for WebhookDelivery {
    fn from(delivery: Delivery) -> Self {
        Self {
            id: ID(delivery.id.to_string()),
            event_id: format!("msg_{}", delivery.event_id),
            event_type: delivery.event_type,
            next_attempt_at: (delivery.status == "pending").then_some(delivery.next_attempt_at),
            status: delivery.status,
            attempts: delivery.attempts,
            last_attempt_at: delivery.last_attempt_at,
            response_code: delivery.last_response_code,
            error: delivery.last_error,
            delivered_at: delivery.delivered_at,
        }
    }
}

/// A webhook with its signing secret, shown only here.
#[derive(SimpleObject)]
pub struct WebhookWithSecret {
    webhook: WebhookNode,
    /// `whsec_` and the base64 of 32 random bytes: verify `webhook-signature` with it.
    /// Shown once; rotate it if it is lost.
    secret: String,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Every webhook endpoint. Admins only.
    async fn webhooks(&self, ctx: &Context<'_>) -> Result<Vec<WebhookNode>> {
        let request = RequestContext::of(ctx)?;
        let all = endpoints(request)?.all().await.map_err(ApiError::from)?;
        Ok(all.into_iter().map(WebhookNode).collect())
    }
}

/// What `deleteWebhook` removed.
#[derive(SimpleObject)]
pub struct DeleteWebhookPayload {
    deleted_webhook_id: ID,
}

/// `createWebhook`'s input.
#[derive(InputObject, Default)]
pub struct CreateWebhookInput {
    /// Where events are posted: https, public (see `--webhooks-allow-http`,
    /// `--webhooks-allow-private`).
    url: String,
    events: Vec<WebhookEventType>,
    description: Option<String>,
}

/// `updateWebhook`'s input: what is given changes.
#[derive(InputObject, Default)]
pub struct UpdateWebhookInput {
    id: ID,
    url: Option<String>,
    events: Option<Vec<WebhookEventType>>,
    description: Option<String>,
}

/// The input of the mutations that name one endpoint.
#[derive(InputObject, Default)]
pub struct WebhookIdInput {
    id: ID,
}

/// `redeliverWebhookEvent`'s input.
#[derive(InputObject, Default)]
pub struct RedeliverWebhookEventInput {
    webhook_id: ID,
    /// As receivers see it in `webhook-id` (`msg_12`), or its number.
    event_id: String,
}

/// The mutations take an `input` object, as every mutation of the schema does, or the
/// same fields as arguments (`createWebhook(url: …, events: […])`): one or the other.
fn one_form<T>(input: Option<T>, arguments: Option<T>) -> Result<T, ApiError> {
    match (input, arguments) {
        (Some(input), None) => Ok(input),
        (None, Some(arguments)) => Ok(arguments),
        (Some(_), Some(_)) => Err(ApiError::bad_input(
            "input",
            "Give `input` or the fields as arguments, not both.",
        )),
        (None, None) => Err(ApiError::bad_input("input", "Give `input`.")),
    }
}

/// The admin's use cases and the one endpoint a mutation names, by `input` or by `id`.
fn named<'a>(
    ctx: &Context<'a>,
    input: Option<WebhookIdInput>,
    id: Option<ID>,
) -> Result<(Endpoints<'a>, i64), ApiError> {
    let endpoints = endpoints(RequestContext::of(ctx)?)?;
    let input = one_form(input, id.map(|id| WebhookIdInput { id }))?;
    Ok((endpoints, webhook_id(&input.id, "id")?))
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers an endpoint for some event types; returns its signing secret, once.
    /// Admins only.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: Option<CreateWebhookInput>,
        url: Option<String>,
        events: Option<Vec<WebhookEventType>>,
        description: Option<String>,
    ) -> Result<WebhookWithSecret> {
        let request = RequestContext::of(ctx)?;
        let endpoints = endpoints(request)?;
        let given = (url.is_some() || events.is_some() || description.is_some()).then(|| {
            CreateWebhookInput {
                url: url.unwrap_or_default(),
                events: events.unwrap_or_default(),
                description,
            }
        });
        let input = one_form(input, given)?;
        let created = endpoints
            .create(EndpointInput {
                url: Some(input.url),
                events: Some(input.events.into_iter().map(|event| event.0).collect()),
                description: input.description,
            })
            .await
            .map_err(ApiError::from)?;
        Ok(WebhookWithSecret {
            webhook: WebhookNode(created.webhook),
            secret: created.secret,
        })
    }

    /// Changes what is given of an endpoint. Admins only.
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        input: Option<UpdateWebhookInput>,
        id: Option<ID>,
        url: Option<String>,
        events: Option<Vec<WebhookEventType>>,
        description: Option<String>,
    ) -> Result<WebhookNode> {
        let request = RequestContext::of(ctx)?;
        let endpoints = endpoints(request)?;
        // Any argument given is the argument form, so that `input` with one of them is
        // refused rather than either silently dropped.
        let any_given = id.is_some() || url.is_some() || events.is_some() || description.is_some();
        let given = any_given.then(|| UpdateWebhookInput {
            id: id.unwrap_or_else(|| ID::from("")),
            url,
            events,
            description,
        });
        let input = one_form(input, given)?;
        let updated = endpoints
            .update(
                webhook_id(&input.id, "id")?,
                EndpointInput {
                    url: input.url,
                    events: input
                        .events
                        .map(|events| events.into_iter().map(|event| event.0).collect()),
                    description: input.description,
                },
            )
            .await
            .map_err(ApiError::from)?;
        Ok(WebhookNode(updated))
    }

    /// Removes an endpoint and its pending deliveries. Admins only.
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        input: Option<WebhookIdInput>,
        id: Option<ID>,
    ) -> Result<DeleteWebhookPayload> {
        let (endpoints, id) = named(ctx, input, id)?;
        endpoints.delete(id).await.map_err(ApiError::from)?;
        Ok(DeleteWebhookPayload {
            deleted_webhook_id: ID(id.to_string()),
        })
    }

    /// A new signing secret, returned once. For 24 hours deliveries are signed with the
    /// old and the new secret (two signatures in `webhook-signature`), so receivers can
    /// switch without missing one. Admins only.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        input: Option<WebhookIdInput>,
        id: Option<ID>,
    ) -> Result<WebhookWithSecret> {
        let (endpoints, id) = named(ctx, input, id)?;
        let rotated = endpoints.rotate_secret(id).await.map_err(ApiError::from)?;
        Ok(WebhookWithSecret {
            webhook: WebhookNode(rotated.webhook),
            secret: rotated.secret,
        })
    }

    /// Delivers an event to an endpoint again, at once, with the same `webhook-id`.
    /// Admins only.
    async fn redeliver_webhook_event(
        &self,
        ctx: &Context<'_>,
        input: Option<RedeliverWebhookEventInput>,
        webhook_id: Option<ID>,
        event_id: Option<String>,
    ) -> Result<WebhookDelivery> {
        let request = RequestContext::of(ctx)?;
        let endpoints = endpoints(request)?;
        let given = webhook_id.map(|webhook_id| RedeliverWebhookEventInput {
            webhook_id,
            event_id: event_id.unwrap_or_default(),
        });
        let input = one_form(input, given)?;
        let event_id = input.event_id.as_str();
        let event = event_id
            .strip_prefix("msg_")
            .unwrap_or(event_id)
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                ApiError::bad_input("eventId", "`eventId` is not an event id (msg_<n>).")
            })?;
        let delivery = endpoints
            .redeliver(self::webhook_id(&input.webhook_id, "webhookId")?, event)
            .await
            .map_err(ApiError::from)?;
        Ok(delivery.into())
    }

    /// Stops deliveries to an endpoint (they wait until it is enabled). Admins only.
    async fn disable_webhook(
        &self,
        ctx: &Context<'_>,
        input: Option<WebhookIdInput>,
        id: Option<ID>,
    ) -> Result<WebhookNode> {
        self.set_enabled(ctx, input, id, false).await
    }

    /// Resumes deliveries to an endpoint, and forgets its failures. Admins only.
    async fn enable_webhook(
        &self,
        ctx: &Context<'_>,
        input: Option<WebhookIdInput>,
        id: Option<ID>,
    ) -> Result<WebhookNode> {
        self.set_enabled(ctx, input, id, true).await
    }

    /// Sends a `webhook.test` event to this endpoint only. Admins only.
    async fn send_test_webhook(
        &self,
        ctx: &Context<'_>,
        input: Option<WebhookIdInput>,
        id: Option<ID>,
    ) -> Result<WebhookDelivery> {
        let (endpoints, id) = named(ctx, input, id)?;
        let delivery = endpoints.send_test(id).await.map_err(ApiError::from)?;
        Ok(delivery.into())
    }
}

impl WebhookMutation {
    async fn set_enabled(
        &self,
        ctx: &Context<'_>,
        input: Option<WebhookIdInput>,
        id: Option<ID>,
        enabled: bool,
    ) -> Result<WebhookNode> {
        let (endpoints, id) = named(ctx, input, id)?;
        let webhook = endpoints
            .set_enabled(id, enabled)
            .await
            .map_err(ApiError::from)?;
        Ok(WebhookNode(webhook))
    }
}
