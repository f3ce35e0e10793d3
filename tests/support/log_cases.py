"""Log records that carry a secret, and the secret that must not appear in the output."""

from __future__ import annotations

from cryptography.fernet import Fernet

FERNET_KEY = Fernet.generate_key().decode()

CIPHERTEXT = Fernet(FERNET_KEY.encode()).encrypt(b"secret request").decode()

# (kind, logger, message, secret that must not appear)
CASES = [
    (
        "slack webhook URL (httpx request line)",
        "httpx",
        'HTTP Request: POST https://hooks.slack.com/services/T0AAA/B0BBB/XyZsecretPart9 "200"',
        "XyZsecretPart9",
    ),
    (
        "generic webhook URL with a token in its path",
        "app.services.notifications.delivery",
        "posting to https://receiver.example.com/hooks/k3yInPathSecret?x=1",
        "k3yInPathSecret",
    ),
    (
        "OAuth code in the access log",
        "uvicorn.access",
        "GET /auth/google/callback?state=st4teV4lue&code=4/0AcodeSecretValue HTTP/1.1 302",
        "4/0AcodeSecretValue",
    ),
    (
        "OAuth state in the access log",
        "uvicorn.access",
        "GET /auth/google/callback?state=st4teV4lue&code=x HTTP/1.1 302",
        "st4teV4lue",
    ),
    (
        "old one-click sig= value",
        "uvicorn.access",
        "GET /conflicts/3/choose?choice=keep&sig=0f1e2d3c4b5a69788796a5b4c3d2e1f0 HTTP/1.1",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    ),
    (
        "signed one-click token",
        "app.api",
        "link /conflicts/3/choose?t=eyJ1IjoxLCJjIjozfQ.Z2xZkQ.AbCdEfSignaturePart",
        "AbCdEfSignaturePart",
    ),
    (
        "bare signed token",
        "app.api",
        "token eyJ1IjoxLCJjIjozfQ.Z2xZkQ.AbCdEfSignaturePart in a message",
        "AbCdEfSignaturePart",
    ),
    ("sign-up link (Fernet ciphertext)", "app.services", f"link {CIPHERTEXT}", CIPHERTEXT[10:40]),
    (
        "Authorization header (dict repr)",
        "urllib3",
        "headers={'Authorization': 'Bearer ya29.a0AccessTokenSecret', 'Accept': '*/*'}",
        "ya29.a0AccessTokenSecret",
    ),
    (
        "Slack user token",
        "app.tasks",
        "quiet mode with xoxp-1234-5678-9abcdefSlackSecret failed",
        "9abcdefSlackSecret",
    ),
    (
        "Authorization header (raw)",
        "httpcore",
        "send_request_headers.started <Request [b'POST']> Authorization: Basic dXNlcjpwdw==",
        "dXNlcjpwdw==",
    ),
    (
        "API token",
        "app",
        "token gg_Z8kPq2Rv9sLmNb4TxW7yA1cD3eF5gH6jK used",
        "Z8kPq2Rv9sLmNb4TxW7yA1cD3eF5",
    ),
    (
        "webhook signing secret",
        "app",
        "secret ggwh_Q1w2E3r4T5y6U7i8O9p0AsDfGhJk",
        "Q1w2E3r4T5y6U7i8O9p0",
    ),
    (
        "password in a form body",
        "app",
        "body email=a%40b.example&password=hunter2hunter2",
        "hunter2",
    ),
    (
        "password in JSON",
        "app",
        '{"email": "a@b.example", "password": "hunter2hunter2"}',
        "hunter2",
    ),
    ("Fernet key", "app.config", f"GG_ENCRYPTION_KEYS={FERNET_KEY}", FERNET_KEY),
    (
        "client secret",
        "msal",
        "client_secret=GOCSPX-s3cr3tClientValue&grant_type=x",
        "s3cr3tClient",
    ),
    (
        "client secret in JSON",
        "msal",
        '{"client_secret": "GOCSPX-s3cr3tClientValue"}',
        "s3cr3tClient",
    ),
    (
        "Google refresh token",
        "google.auth",
        "refreshing 1//0gRefreshTokenSecret",
        "RefreshTokenSecret",
    ),
    ("password hash", "app", "hash $argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "c2FsdA$aGFzaA"),
    (
        "CalDAV app password in a server URL (no path)",
        "connectors.caldav",
        "could not reach https://ann%40corp.example:abcd-efgh-ijkl-mnop@caldav.fastmail.com",
        "abcd-efgh-ijkl-mnop",
    ),
    (
        "demo calendar URL with its login",
        "app.demo",
        "open http://demo7:Xq3-Dm0CalPw9z@127.0.0.1:5232/demo7/work/ in Thunderbird",
        "Xq3-Dm0CalPw9z",
    ),
    (
        "CalDAV credential blob (JSON)",
        "app.services",
        '{"url": "https://cal.example.org/dav/", "username": "ann", "password": "AppPw-7f3k9"}',
        "AppPw-7f3k9",
    ),
    (
        "CalDAV connect form body",
        "uvicorn.access",
        "server=https%3A%2F%2Fcal.example.org&username=ann&password=AppPw-7f3k9",
        "AppPw-7f3k9",
    ),
    (
        "CalDAV Basic authorization (library debug line)",
        "urllib3_future.connectionpool",
        "PROPFIND /demo7/ headers={'Authorization': 'Basic ZGVtbzc6WHEzLURtMENhbFB3OXo='}",
        "ZGVtbzc6WHEzLURtMENhbFB3OXo=",
    ),
]
