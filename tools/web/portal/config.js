// Where the Secure Login API lives: the `ApiUrl` output of the stack (e.g.
// "https://abc123.execute-api.us-east-1.amazonaws.com/prod"); empty: this page's own origin.
// A portal on another origin needs the stack deployed with PortalOrigin set to it (CORS).
window.SLS_CONFIG = {apiBaseUrl: ""};
