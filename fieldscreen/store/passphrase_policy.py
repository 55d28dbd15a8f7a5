"""What a passphrase must be; light enough for the unlock screen to import at start-up."""

MIN_PASSPHRASE_LENGTH = 8
