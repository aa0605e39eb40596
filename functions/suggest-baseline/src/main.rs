//! Wiring only: JSON logs and the S3 client once per process; each event to [`handler::handle`].

use lambda_runtime::{Error, LambdaEvent, service_fn};
use suggest_baseline::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    modelwatch_aws::logs::init_json_logs();
    let sdk = modelwatch_aws::config::load().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let s3 = &s3;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let response = handler::handle(s3, event.payload).await?;
        Ok::<_, Error>(serde_json::to_value(response)?)
    }))
    .await
}
