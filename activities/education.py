"""Customer education's I/O (step 5): an education action logged, once.

``log_education_action`` runs ``complaints.education.record_action`` in the worker, where
``EducationLogWorkflow`` has checked the recorder's signature: the recorder exists, is active
and has one of the policy's recorder roles; the product and day are the policy's. Logging the same
action twice (product, topic, kind, day, title) records it once, so a retried activity writes
nothing twice. A refusal is an answer (``refused``), not a failure to retry.
"""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from activities.logging import bound_logger
from complaints.education import EducationActionInvalid, record_action
from complaints.intake import ActionRefused, StaffNotFound
from domain.policy import PolicyStore
from models.education import EducationActionRequest, EducationLogResult


class EducationActivities:
    def __init__(self, engine: Engine, policies: PolicyStore) -> None:
        self._engine = engine
        self._policies = policies

    @activity.defn
    def log_education_action(self, request: EducationActionRequest) -> EducationLogResult:
        log = bound_logger(product=request.product, recorded_by=request.recorded_by)
        try:
            action, new = record_action(self._engine, self._policies.current, request)
        except EducationActionInvalid as e:
            return EducationLogResult(refused=str(e), invalid=True)
        except StaffNotFound as e:
            return EducationLogResult(refused=str(e), unknown_staff=True)
        except ActionRefused as e:
            return EducationLogResult(refused=str(e))
        log.info("education action logged" if new else "education action already logged", id=action.id)
        return EducationLogResult(action=action, recorded=new)
