"""Models trained elsewhere, registered as versions: read from their files (:mod:`.load`),
made to serve the stream and checked against it (:mod:`.check`)."""
