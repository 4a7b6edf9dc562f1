"""Staff sign in with their organisation's identity provider: OIDC bearer tokens (JWT).

A token is accepted when its signature verifies against a key the issuer publishes
(its JWKS, fetched and cached by PyJWT's ``PyJWKClient``), with an asymmetric
algorithm only (RS256/ES256...: an HS256 token "signed" with the public key, or an
unsigned one, is refused), and its ``iss``, ``aud``, ``exp`` and ``sub`` are right.
The role comes from one claim (``api.oidc_role_claim``; a string or a list), the team
from another; a token without a known role is refused, as a key without one would be.
"""

from __future__ import annotations

from typing import Any

import jwt

from api.keys import Principal
from api.roles import Role

__all__ = ["ALGORITHMS", "OidcVerifier"]

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
_PRECEDENCE = (Role.RISK_ADMIN, Role.ANALYST, Role.COLLECTOR, Role.INTEGRATION, Role.VIEWER)
"""A token naming several roles acts as the first of these it names."""


class OidcVerifier:
    """Checks tokens of one issuer; `verify` may fetch the JWKS, so call it off the loop."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str,
        audience: str,
        role_claim: str = "loanwatch_role",
        team_claim: str = "team",
        leeway_s: float = 30.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.role_claim = role_claim
        self.team_claim = team_claim
        self.leeway_s = leeway_s
        self.jwks = jwt.PyJWKClient(jwks_url, lifespan=300, timeout=5, cooldown_duration=30)

    def verify(self, token: str) -> tuple[Principal | None, str]:
        """The token's principal, or None and why not (for the 401 and the audit row)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            return None, "neither an API key nor a JWT"
        if header.get("alg") not in ALGORITHMS:
            return None, f"token algorithm {header.get('alg')!r} is not accepted"
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            return None, f"the issuer's keys could not be fetched ({exc})"
        except jwt.PyJWKClientError:
            return None, "token signed by a key the issuer does not publish"
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            return None, "token expired"
        except jwt.InvalidAudienceError:
            return None, f"token is not for audience {self.audience}"
        except jwt.InvalidIssuerError:
            return None, f"token is not from issuer {self.issuer}"
        except jwt.InvalidSignatureError:
            return None, "token signature does not verify"
        except jwt.InvalidTokenError as exc:
            return None, f"token refused ({exc})"
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> tuple[Principal | None, str]:
        named = claims.get(self.role_claim)
        names = {named} if isinstance(named, str) else set(named or ())
        role = next((r for r in _PRECEDENCE if r.value in names), None)
        if role is None:
            return None, f"token names no Loanwatch role in claim {self.role_claim}"
        team = claims.get(self.team_claim)
        sub = str(claims["sub"])
        name = str(claims.get("preferred_username") or sub)
        return Principal(f"oidc:{sub}", name, role, team if isinstance(team, str) else None), ""
