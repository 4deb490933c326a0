"""zh-CN wording of the loop's refusals (the default language); English comes from the domain."""

from __future__ import annotations

from ..domain.guards import CaseRuleViolation

ZH: dict[str, str] = {
    "case_not_found": "未找到该个案",
    "alert_not_found": "未找到该预警",
    "note_not_found": "该个案下没有这条记录",
    "follow_up_not_found": "该个案下没有这次回访",
    "referral_not_found": "该个案尚无转介",
    "students_have_no_case_access": "学生不能查看个案信息",
    "role_has_no_case_access": "该角色不能查看个案",
    "severity_too_low": "研判等级为“无”时不开立个案",
    "out_of_scope": "该学生不在您的负责范围内",
    "free_text_need_to_know": "个案记录等文字内容仅限负责范围内的四级及以上人员、个案负责人和心理中心查看",
    "transition_forbidden": "仅负责范围内的四级及以上人员可推进个案",
    "referral_forbidden": "仅负责范围内的四级及以上人员可更新转介状态",
    "consent_forbidden": "仅负责范围内的四级及以上人员可记录知情同意",
    "notes_forbidden": "仅负责范围内的四级及以上人员可填写个案记录",
    "plan_forbidden": "仅负责范围内的四级及以上人员可修改帮扶计划",
    "follow_ups_forbidden": "仅负责范围内的四级及以上人员可安排或调整回访",
    "transition_not_allowed": "闭环流程不允许这一步",
    "reason_required": "需要填写原因",
    "action_taken_required": "进入干预需记录已采取的措施",
    "referral_required": "转介需填写去向与类型",
    "destination_required": "转介需填写去向",
    "consent_declined": "学生未同意：需由有权限者填写理由后覆盖",
    "override_forbidden": "仅五级及以上人员可覆盖知情同意",
    "override_reason_required": "覆盖知情同意需书面理由",
    "referral_not_returned": "学生转介返校后方可进入善后",
    "outcome_required": "结案需填写结案结果",
    "close_needs_tier5": "重度或危急个案须由五级及以上人员结案",
    "follow_up_required": "重度或危急个案须完成回访后方可结案",
    "student_has_active_case": "该学生已有进行中的个案",
    "assign_forbidden": "仅负责范围内的五级及以上人员或校区管理员可改派",
    "owner_not_responsible": "新负责人不承担该学生的这一角色",
    "acknowledge_forbidden": "仅负责范围内的四级及以上人员可确认预警",
    "acknowledge_needs_owner_tier": "需由预警所属层级或更高层级确认",
    "link_person_not_responsible": "确认链接的持有人不承担该学生的这一角色",
    "version_conflict": "个案已被他人更新，请刷新后重试",
    "plan_version_conflict": "帮扶计划已被他人更新，请刷新后重试",
    "referral_step_not_allowed": "转介状态不允许这一步",
    "follow_up_closed": "该回访已关闭",
    "follow_up_still_scheduled": "请以已完成或已取消关闭回访",
    "finding_needs_completion": "只有已完成的回访才能记录回访结果",
    "duplicate_action": "计划中的措施编号重复",
    "student_not_found": "花名册中没有该学生",
    "already_in_scope": "该学生已在您的负责范围内，可直接查看档案，无需申请临时查看",
    "grant_not_found": "没有这条临时查看授权记录",
    "import_not_found": "没有这条导入记录",
    "conflict": "数据已被同时修改，请刷新后重试",
    "database_unavailable": "数据库暂时不可用，请稍后重试",
    "role_cannot_report": "该角色不能上报学生情况",
    "query_too_short": "请至少输入学号或姓名中的两个字",
    "erasure_forbidden": "仅心理中心可应学生申请删除档案文字",
    "erasure_case_open": "该学生仍有未结案的个案：结案后方可删除其档案文字",
}


#: zh-CN wording of what is wrong with the field a refusal names (`field_message`), by code:
#: the field's own fault, not the refusal's detail again.
ZH_FIELD: dict[str, str] = {
    "reason_required": "未填写",
    "action_taken_required": "未填写",
    "referral_required": "未填写",
    "destination_required": "未填写",
    "override_reason_required": "未填写",
    "outcome_required": "未填写",
    "consent_declined": "学生不同意",
    "referral_not_returned": "尚未标记为已返校",
    "follow_up_required": "该个案尚无已完成的回访",
    "finding_needs_completion": "仅在以“已完成”关闭回访时填写",
}


def zh_field_message(exc: CaseRuleViolation) -> str | None:
    """What is wrong with the refusal's field in zh-CN: its own wording, else its code's."""
    return exc.field_message_zh or ZH_FIELD.get(exc.code)


def zh_detail(exc: CaseRuleViolation) -> str | None:
    """The refusal in zh-CN: its own wording if it brought one, else the wording of its code."""
    return exc.detail_zh or ZH.get(exc.code)
