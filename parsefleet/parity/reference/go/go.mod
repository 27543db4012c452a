module parsefleet/reference/go

go 1.19
