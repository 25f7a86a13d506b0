"""The online referral form (tilmeldingsblanket) for BBU caseworkers."""
