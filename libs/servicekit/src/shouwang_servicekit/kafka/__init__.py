"""Kafka for a service: the clients (`clients`), the consumer runtime (`consumers`) and dead
letters (`deadletters`). What records mean on the wire is the contracts' (`shouwang_contracts.kafka`)."""
