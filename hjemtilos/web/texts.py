"""The referral form's words, Danish and English (the fields' own labels are in fields.py)."""

from __future__ import annotations

__all__ = ["TEXT"]

TEXT = {
    "da": {"title": "Tilmelding til Hjem til Os", "intro": "Henvisning af et barn til en frivillig venskabsfamilie. "
           "Felter med * skal udfyldes.", "submit": "Send henvisningen", "errors": "Henvisningen kan ikke sendes endnu. "
           "Ret felterne markeret nedenfor.", "switch": "English", "thanks": "Tak for henvisningen",
           "received": "Vi har modtaget henvisningen. Sagens nummer er", "receipt": "Du får en kvittering på mail. "
           "En koordinator fra Red Barnet gennemgår henvisningen.", "csrf": "Formularen er udløbet. Send den igen.",
           "new": "Henvis endnu et barn", "privacy": "Sådan behandler vi personoplysninger",
           "busy": "Der er sendt for mange henvisninger herfra på kort tid. Vent lidt, "
           "og prøv igen; ring til Red Barnet, hvis det haster.", "too_big": "Henvisningen er for stor til at blive "
           "sendt."},
    "en": {"title": "Referral to Hjem til Os", "intro": "Referral of a child to a volunteer friendship family. "
           "Fields marked * are required.", "submit": "Send the referral", "errors": "The referral cannot be sent yet. "
           "Please correct the fields marked below.", "switch": "Dansk", "thanks": "Thank you for the referral",
           "received": "We have received the referral. The case number is", "receipt": "You will get a receipt by "
           "e-mail. A coordinator at Red Barnet will review the referral.", "csrf": "The form expired. Please send "
           "it again.", "new": "Refer another child", "privacy": "How we handle personal data",
           "busy": "Too many referrals have been sent from here in a short "
           "time. Please wait a little and try again; call Red Barnet if it is urgent.", "too_big": "The referral is "
           "too large to be sent."},
}
TEXT["da"].update({  # the way in for verified referrers (hjemtilos/web/referrers.py)
    "start": "Skriv din arbejdsmail, så sender vi dig et link til henvisningsformularen. Linket virker én gang; "
             "kvitteringen for henvisningen sendes til samme adresse.", "email": "Din arbejdsmail",
    "send_link": "Send mig et link", "sent": "Tjek din mail",
    "sent_text": "Vi har sendt et link til henvisningsformularen til",
    "link_used": "Linket er brugt eller udløbet. Bed om et nyt nedenfor.",
    "verified": "Henvisningen sendes fra den bekræftede adresse"})
TEXT["en"].update({
    "start": "Give your work e-mail and we send you a link to the referral form. The link works once; the receipt "
             "goes to the same address.", "email": "Your work e-mail", "send_link": "Send me a link",
    "sent": "Check your mail", "sent_text": "We have sent a link to the referral form to",
    "link_used": "The link has been used or has expired. Ask for a new one below.",
    "verified": "The referral is sent from the verified address"})
