"""Model serving: Open Inference Protocol V2 and V1 servers, managed services, KServe export."""
