-- Sign-in with an OpenID Connect provider: what `authorize` sent the
-- provider and the callback must check (the ID token's nonce) or send
-- back (the PKCE verifier). Both die with their request, within minutes.
ALTER TABLE signin_requests ADD COLUMN upstream_nonce TEXT;
ALTER TABLE signin_requests ADD COLUMN upstream_verifier TEXT;
