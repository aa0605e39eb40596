//! The CLI's AWS credentials on a laptop: profiles that get their credentials from a `credential_process` (and SSO,
//! compiled by the same feature set) work, not only static keys.

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_credential_types::provider::ProvideCredentials;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};

#[tokio::test]
async fn a_credential_process_profile_gives_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[profile laptop]\nregion = eu-west-1\ncredential_process = echo \
         '{\"Version\":1,\"AccessKeyId\":\"AKIDFROMPROCESS\",\"SecretAccessKey\":\"secret\"}'\n",
    )
    .unwrap();
    let provider = ProfileFileCredentialsProvider::builder()
        .profile_files(
            EnvConfigFiles::builder()
                .with_file(EnvConfigFileKind::Config, &config)
                .build(),
        )
        .profile_name("laptop")
        .build();
    let credentials = provider
        .provide_credentials()
        .await
        .expect("the credential_process provider is compiled in");
    assert_eq!(credentials.access_key_id(), "AKIDFROMPROCESS");
}
