// Where the Secure Login API is. Empty: this page's own origin (the local stack serves both).
// For a deployment, the stack's ApiUrl output, e.g. "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
// (the API then needs the page's origin as PortalOrigin for CORS).
window.SLS_CONFIG = { apiBaseUrl: "" };
