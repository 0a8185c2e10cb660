"""The shipped starting catalog: service items from Chinese community practice (SAMPLE).

Loaded by migration 0002 into every database (items without a district apply everywhere),
marked `is_sample`. Time limits and materials vary by province and city: a district
administrator checks each item against local rules in the admin before relying on it.
"""

from __future__ import annotations

from typing import Any

DEPARTMENTS: list[dict[str, str]] = [
    {"code": "medical-insurance-bureau", "name_zh": "区医疗保障局", "name_en": "District Medical Insurance Bureau"},
    {"code": "housing-bureau", "name_zh": "区住房和城乡建设局", "name_en": "District Housing and Construction Bureau"},
    {"code": "veterans-bureau", "name_zh": "区退役军人事务局", "name_en": "District Veterans Affairs Bureau"},
]

ID = ("申请人身份证", "applicant's ID card")
HUKOU = ("户口簿", "household register (hukou booklet)")
BANK = ("社会保障卡或本人银行卡", "social security card or the applicant's bank card")
PHOTO = ("近期一寸免冠照片", "recent one-inch ID photo")
FORM = ("申请表（社区提供）", "application form (from the community)")
INCOME = ("家庭收入及财产情况说明、授权核对书", "statement of family income and assets, with consent to verify")
HOSPITAL = ("医院诊断证明或病历", "hospital diagnosis or medical records")
DISABILITY_CARD = ("残疾人证", "disability certificate")

# code, zh, en, category, line or "dept:<code>", days, proxy, in person, materials
ITEMS: list[tuple[str, str, str, str, str, int, bool, bool, tuple[tuple[str, str], ...]]] = [
    ("elderly-allowance", "高龄津贴申领", "Old-age allowance (80+) application", "elderly", "elderly_care", 20, True, False, (ID, HUKOU, BANK)),
    ("home-care-subsidy", "居家养老服务补贴申请", "Home-based elderly care subsidy", "elderly", "elderly_care", 15, True, False, (ID, HUKOU, FORM, ("老年人能力评估结果", "elderly care needs assessment"))),
    ("elderly-capacity-assessment", "老年人能力评估申请", "Elderly care needs assessment", "elderly", "elderly_care", 20, True, False, (ID, FORM, HOSPITAL)),
    ("elderly-meal-assistance", "老年助餐服务申请", "Meal service for older residents", "elderly", "elderly_care", 5, True, False, (ID, FORM)),
    ("age-friendly-home-modification", "困难老年人家庭适老化改造申请", "Age-friendly home modification for low-income elders", "elderly", "elderly_care", 30, True, True, (ID, HUKOU, FORM, ("房屋产权或租赁证明", "proof of ownership or tenancy"))),
    ("subsistence-allowance", "最低生活保障申请", "Minimum living allowance (dibao) application", "social_assistance", "civil_affairs", 30, True, True, (ID, HUKOU, INCOME, BANK, FORM)),
    ("temporary-assistance", "临时救助申请", "Temporary assistance application", "social_assistance", "civil_affairs", 15, True, False, (ID, HUKOU, ("困难情况说明及相关证明", "statement of the emergency and supporting proof"), BANK)),
    ("extreme-poverty-support", "特困人员救助供养申请", "Support for persons in extreme poverty", "social_assistance", "civil_affairs", 30, True, True, (ID, HUKOU, INCOME, ("无劳动能力证明", "proof of inability to work"), FORM)),
    ("funeral-subsidy", "惠民殡葬补贴申领", "Basic funeral subsidy", "social_assistance", "civil_affairs", 10, True, False, (("逝者死亡证明、火化证明", "death and cremation certificates"), ("经办人身份证", "ID card of the family member applying"), BANK)),
    ("residence-certificate", "居住证明开具", "Certificate of residence", "certificates", "civil_affairs", 3, True, True, (ID, ("房屋产权证明或租赁合同", "property certificate or tenancy contract"))),
    ("disability-certificate", "残疾人证办理", "Disability certificate (new or renewal)", "disability", "disability", 20, True, True, (ID, HUKOU, ("两张二寸免冠彩色照片", "two recent two-inch colour photos"), HOSPITAL)),
    ("disability-living-subsidy", "困难残疾人生活补贴申请", "Living subsidy for low-income disabled persons", "disability", "disability", 20, True, False, (ID, DISABILITY_CARD, INCOME, BANK)),
    ("severe-disability-care-subsidy", "重度残疾人护理补贴申请", "Care subsidy for persons with severe disabilities", "disability", "disability", 20, True, False, (ID, DISABILITY_CARD, BANK, FORM)),
    ("assistive-device", "残疾人辅助器具适配申请", "Assistive devices for disabled persons", "disability", "disability", 15, True, True, (ID, DISABILITY_CARD, FORM)),
    ("pension-qualification", "养老保险待遇资格认证", "Pension entitlement verification (proof of life)", "social_insurance", "social_security", 5, True, False, (ID, ("本人近期照片（上门拍摄）", "a recent photo of the pensioner (taken at the door)"))),
    ("resident-pension-enrolment", "城乡居民养老保险参保登记", "Urban-rural resident pension enrolment", "social_insurance", "social_security", 5, True, False, (ID, HUKOU)),
    ("resident-medical-enrolment", "城乡居民医疗保险参保登记", "Urban-rural resident medical insurance enrolment", "medical_insurance", "social_security", 5, True, False, (ID, HUKOU)),
    ("medical-reimbursement", "医疗保险报销代办", "Medical insurance reimbursement (filed by proxy)", "medical_insurance", "dept:medical-insurance-bureau", 20, True, False, (ID, ("医疗费用发票原件", "original medical invoices"), ("费用明细清单", "itemised bill"), ("出院小结或病历", "discharge summary or medical records"), BANK)),
    ("chronic-disease-outpatient", "门诊慢特病待遇申请", "Outpatient chronic and special disease benefits", "medical_insurance", "dept:medical-insurance-bureau", 15, True, False, (ID, HOSPITAL, ("近期检查报告", "recent test reports"))),
    ("family-doctor-signing", "家庭医生签约服务", "Family doctor contract", "health", "health", 5, True, False, (ID, ("医保卡", "medical insurance card"))),
    ("only-child-parent-award", "独生子女父母奖励扶助申请", "Reward and support for parents of only children", "family", "health", 20, True, False, (ID, HUKOU, ("独生子女父母光荣证", "certificate of honour for parents of an only child"), BANK)),
    ("birth-registration", "生育登记", "Birth registration (family planning service)", "family", "health", 3, True, False, (("夫妻双方身份证", "ID cards of both parents"), ("结婚证", "marriage certificate"))),
    ("public-rental-housing", "公共租赁住房申请", "Public rental housing application", "housing", "dept:housing-bureau", 30, True, False, (ID, HUKOU, INCOME, ("住房情况证明", "statement of current housing"))),
    ("housing-rental-subsidy", "住房租赁补贴申请", "Housing rental subsidy", "housing", "housing", 20, True, False, (ID, HUKOU, INCOME, ("租赁合同", "tenancy contract"), BANK)),
    ("unemployment-registration", "失业登记", "Unemployment registration", "employment", "employment", 5, True, False, (ID, ("解除劳动合同证明", "proof of termination of employment"))),
    ("employment-difficulty-certification", "就业困难人员认定", "Certification as a person with employment difficulties", "employment", "employment", 10, True, False, (ID, HUKOU, ("失业登记证明", "proof of unemployment registration"))),
    ("veteran-subsidy", "退役军人优抚补助申领", "Preferential treatment subsidy for veterans", "veterans", "dept:veterans-bureau", 20, True, True, (ID, ("退役证件", "discharge certificate"), BANK)),
]


def rows() -> list[dict[str, Any]]:
    out = []
    for code, zh, en, category, handler, days, proxy, in_person, materials in ITEMS:
        out.append(
            {
                "code": code,
                "name_zh": zh,
                "name_en": en,
                "category": category,
                "line": "" if handler.startswith("dept:") else handler,
                "department_code": handler[5:] if handler.startswith("dept:") else None,
                "time_limit_days": days,
                "proxy_allowed": proxy,
                "in_person_delivery": in_person,
                "materials_zh": "\n".join(m[0] for m in materials),
                "materials_en": "\n".join(m[1] for m in materials),
                "description_zh": f"{zh}（示例事项，请按本地规定核对办理时限和材料）",
                "description_en": f"{en} (sample item: check the time limit and materials "
                "against local rules)",
                "is_sample": True,
            }
        )
    return out
