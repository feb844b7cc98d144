// The Client Portal's Secure Login pages: logged out (password, device) or signed in.
import {session, whenSessionEnds} from "./api.js";
import {initAccount, sessionEnded, showSignedIn} from "./account.js";
import {initLogin, showLogin} from "./login.js";
import {$, show} from "./ui.js";

initLogin({onSignedIn: showSignedIn});
initAccount();
whenSessionEnds(sessionEnded);
show($("#loading"), false);
if (session()) {
  showSignedIn();
} else {
  showLogin();
}
